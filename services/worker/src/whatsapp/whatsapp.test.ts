import { beforeEach, describe, expect, it } from 'vitest';
import { applyPayment } from '@bursar/ledger';
import { waitUntil } from '@bursar/test-support';
import { testDocuments } from '../documents/documents.testing.js';
import {
  campaignMessages,
  launchCampaign,
  receivedBy,
  schoolWithFamilies,
  startWhatsAppWorkers,
  testWhatsAppDeps,
  whatsappTestBed,
} from './whatsapp.testing.js';
import { OPT_OUT_REPLY } from './events.processor.js';
import { processReminders } from './transactional.processor.js';

// As many connections as the workers run jobs at once, as a deployment sizes its pool.
const { db, logger, prefix, relay, sendQueue, sandbox } = await whatsappTestBed('whatsapp-test');
const whatsapp = testWhatsAppDeps({ apiBase: sandbox.url, sendQueue, reconcileAfterMs: 2_000 });
const documents = testDocuments(db, logger);

describe('WhatsApp campaigns and messages through the worker and the sandbox provider', () => {
  relay.start();
  startWhatsAppWorkers({ db, logger, outbox: relay, documents, whatsapp, prefix });
  beforeEach(() => sandbox.reset());

  it('sends a campaign once to each guardian, leaves out opted-out and invalid numbers, and follows statuses', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 12, { invalid: 1 });
    await db
      .insertInto('whatsappOptOuts')
      .values({
        businessNumber: whatsapp.businessNumber,
        phone: guardians[1]!.phone,
        optedOut: true,
        keyword: 'stop',
      })
      .execute();
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await waitUntil(
      'the campaign to complete',
      async () => {
        const row = await db
          .selectFrom('whatsappCampaigns')
          .select('status')
          .where('id', '=', campaignId)
          .executeTakeFirst();
        return row?.status === 'completed';
      },
      30_000,
    );
    await waitUntil(
      'every status to reach read',
      async () => {
        const messages = await campaignMessages(db, campaignId);
        return messages.filter((message) => message.status === 'read').length === 10;
      },
      30_000,
    );
    const messages = await campaignMessages(db, campaignId);
    expect(messages).toHaveLength(12);
    expect(messages.filter((message) => message.reason === 'invalid_number')).toHaveLength(1);
    expect(messages.filter((message) => message.reason === 'opted_out')).toHaveLength(1);
    const counts = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    expect(counts.get(guardians[0]!.phone)).toBe(0);
    expect(counts.get(guardians[1]!.phone)).toBe(0);
    expect([...counts.values()].filter((count) => count === 1)).toHaveLength(10);
    // Parameters are the facts, formatted as the school prints them.
    const first = sandbox.received().find((message) => message.to === guardians[2]!.phone)!;
    expect(first.params).toEqual(['Parent 2', '₹500.00', 'Kid2']);
    expect(first.clientReference).toBe(messages.find((message) => message.phone === guardians[2]!.phone)!.id);
  });

  it('backs the queue off while the provider answers 429, and still messages each of 2,000 guardians exactly once', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 2_000);
    // One status each: the point is the sends, and thousands of statuses would queue ahead of later tests' events.
    sandbox.setStatusPlan({ statuses: ['delivered'] });
    sandbox.setFault({ kind: '429', forMs: 1_500 });
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await waitUntil(
      'the campaign to complete',
      async () =>
        (
          await db
            .selectFrom('whatsappCampaigns')
            .select('status')
            .where('id', '=', campaignId)
            .executeTakeFirst()
        )?.status === 'completed',
      120_000,
    );
    const counts = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    expect([...counts.values()].filter((count) => count !== 1)).toEqual([]);
    const messages = await campaignMessages(db, campaignId);
    expect(messages.filter((message) => message.status === 'failed')).toEqual([]);
  }, 180_000);

  it(
    'opts a guardian out on STOP (with a reply), leaves them out of the next campaign, and back in on START',
    { timeout: 90_000 },
    async () => {
      const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 3);
      const phone = guardians[0]!.phone;
      await sandbox.deliverInbound(phone, 'STOP');
      await waitUntil('the opt-out', async () =>
        Boolean(
          (
            await db
              .selectFrom('whatsappOptOuts')
              .select('optedOut')
              .where('phone', '=', phone)
              .executeTakeFirst()
          )?.optedOut,
        ),
      );
      await waitUntil('the reply', async () =>
        sandbox.received().some((message) => message.to === phone && message.text === OPT_OUT_REPLY),
      );
      const left = await launchCampaign(db, relay, schoolId, templateId);
      await waitUntil(
        'the first campaign to complete',
        async () =>
          (
            await db
              .selectFrom('whatsappCampaigns')
              .select('status')
              .where('id', '=', left)
              .executeTakeFirstOrThrow()
          ).status === 'completed',
      );
      expect((await campaignMessages(db, left)).find((message) => message.phone === phone)).toMatchObject({
        status: 'excluded',
        reason: 'opted_out',
      });
      await sandbox.deliverInbound(phone, 'start');
      await waitUntil(
        'the opt-in',
        async () =>
          (
            await db
              .selectFrom('whatsappOptOuts')
              .select('optedOut')
              .where('phone', '=', phone)
              .executeTakeFirstOrThrow()
          ).optedOut === false,
      );
      const back = await launchCampaign(db, relay, schoolId, templateId);
      await waitUntil(
        'the second campaign to complete',
        async () =>
          (
            await db
              .selectFrom('whatsappCampaigns')
              .select('status')
              .where('id', '=', back)
              .executeTakeFirstOrThrow()
          ).status === 'completed',
      );
      expect((await campaignMessages(db, back)).find((message) => message.phone === phone)?.status).not.toBe(
        'excluded',
      );
    },
  );

  it('honours a school word for stop (बंद)', async () => {
    const { schoolId, guardians } = await schoolWithFamilies(db, 1);
    await db
      .updateTable('schools')
      .set({ optOutKeywords: ['बंद'] })
      .where('id', '=', schoolId)
      .execute();
    await sandbox.deliverInbound(guardians[0]!.phone, ' बंद ');
    await waitUntil('the opt-out', async () =>
      Boolean(
        (
          await db
            .selectFrom('whatsappOptOuts')
            .select('optedOut')
            .where('phone', '=', guardians[0]!.phone)
            .executeTakeFirst()
        )?.optedOut,
      ),
    );
  });

  it('holds sends during the school’s quiet hours', async () => {
    const { schoolId, templateId } = await schoolWithFamilies(db, 2);
    // A window that contains now in the school's zone, whatever the time of the run.
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Asia/Kolkata',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .format(new Date())
      .split(':')
      .map(Number) as [number, number];
    const start = `${String(local[0]).padStart(2, '0')}:00`;
    const end = `${String((local[0] + 2) % 24).padStart(2, '0')}:00`;
    await db
      .updateTable('schools')
      .set({ quietHoursStart: start, quietHoursEnd: end })
      .where('id', '=', schoolId)
      .execute();
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await waitUntil('the sends to be held', async () => {
      const jobs = await sendQueue.getDelayed();
      const messages = await campaignMessages(db, campaignId);
      return (
        messages.length === 2 &&
        jobs.filter((job) => messages.some((m) => job.id?.includes(m.id))).length === 2
      );
    });
    expect((await campaignMessages(db, campaignId)).map((message) => message.status)).toEqual([
      'queued',
      'queued',
    ]);
  });

  it('applies statuses forward only: a late delivered never undoes read', async () => {
    const { schoolId, templateId } = await schoolWithFamilies(db, 1);
    sandbox.setStatusPlan({ statuses: ['read', 'delivered', 'sent'] });
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await waitUntil('the statuses', async () => {
      const [message] = await campaignMessages(db, campaignId);
      return Boolean(message?.readAt && message.deliveredAt);
    });
    const [message] = await campaignMessages(db, campaignId);
    expect(message!.status).toBe('read');
  });

  it('stops a reminder once its invoice is paid', async () => {
    const { schoolId, guardians } = await schoolWithFamilies(db, 1);
    await db
      .insertInto('whatsappTemplates')
      .values({
        schoolId,
        name: 'due_soon',
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, {{3}} is due.',
        paramCount: 3,
        purpose: 'reminder',
        status: 'approved',
      })
      .execute();
    const invoice = await db
      .selectFrom('invoices')
      .select(['id', 'dueDate'])
      .where('schoolId', '=', schoolId)
      .executeTakeFirstOrThrow();
    await db
      .updateTable('schools')
      .set({ reminderOffsets: [-5] })
      .where('id', '=', schoolId)
      .execute();
    // Hold the send queue so the reminder is still waiting when the payment lands.
    await sendQueue.pause();
    try {
      const result = await processReminders({}, { db, logger, outbox: relay, whatsapp });
      expect(result.queued).toBe(1);
      // Running again finds it already made.
      expect((await processReminders({}, { db, logger, outbox: relay, whatsapp })).queued).toBe(0);
      await db
        .transaction()
        .execute((trx) =>
          applyPayment(trx, { schoolId, invoiceId: invoice.id, amountMinor: 50_000n, method: 'cash' }),
        );
    } finally {
      await sendQueue.resume();
    }
    await waitUntil('the reminder to be cancelled', async () => {
      const message = await db
        .selectFrom('whatsappMessages')
        .select(['status', 'reason'])
        .where('invoiceId', '=', invoice.id)
        .where('purpose', '=', 'reminder')
        .executeTakeFirst();
      return message?.status === 'cancelled' && message.reason === 'paid';
    });
    expect(receivedBy(sandbox, [guardians[0]!.phone]).get(guardians[0]!.phone)).toBe(0);
  });
});
