import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { CAMPAIGN_SLOT_SIZE, JOBS } from '@bursar/contracts';
import { enqueue, enqueueMany, transactionWithOutbox } from '@bursar/platform';
import { waitUntil } from '@bursar/test-support';
import { testDocuments } from '../documents/documents.testing.js';
import { unappliedWebhookNames } from './messages.repository.js';
import {
  campaignMessages,
  campaignStatus,
  launchCampaign,
  receivedBy,
  schoolWithFamilies,
  startProviderLink,
  startWhatsAppWorkers,
  testWhatsAppDeps,
  whatsappTestBed,
} from './whatsapp.testing.js';

/** Numbers libphonenumber takes but the provider says are not on WhatsApp (Meta's 131026). */
const NOT_ON_WHATSAPP = '+9197000';
const { db, logger, prefix, relay, sendQueue, campaignQueue, sandbox } = await whatsappTestBed(
  'whatsapp-lifecycle-test',
  {
    sandbox: { invalidNumberPrefixes: ['+1555000', NOT_ON_WHATSAPP] },
  },
);
// Every request the worker makes to the provider, refused ones included (the sandbox logs only what it took).
const link = await startProviderLink(sandbox.url);
const whatsapp = testWhatsAppDeps({ apiBase: link.url, sendQueue, reconcileAfterMs: 2_000 });
const documents = testDocuments(db, logger);

/** Sends per second: slow enough that a pause, a cancel or a receipt lands mid-campaign. */
const PACE = 50;

/** Nothing left for the send workers: every send job has run to its end. */
async function sendsDrained(): Promise<boolean> {
  const counts = await sendQueue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
  return Object.values(counts).every((count) => count === 0);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await waitUntil(what, check, timeoutMs);
}

function completed(campaignId: string) {
  return async () => (await campaignStatus(db, campaignId)) === 'completed';
}

/** Statuses of the campaign's messages, counted: `{ sent: 3, 'excluded/opted_out': 1 }`. */
async function tally(campaignId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('whatsappMessages')
    .select([
      sql<string>`status || coalesce('/' || reason, '')`.as('key'),
      sql<number>`count(*)::int`.as('count'),
    ])
    .where('campaignId', '=', campaignId)
    .groupBy(['status', 'reason'])
    .execute();
  return Object.fromEntries(rows.map((row) => [row.key, row.count]));
}

/** What notify's pause does to the row: the worker sees it at each send. */
async function pause(campaignId: string): Promise<void> {
  await db
    .updateTable('whatsappCampaigns')
    .set({ status: 'paused', updatedAt: sql<Date>`now()` })
    .where('id', '=', campaignId)
    .execute();
}

/** What notify's resume does: the next round, and one send per message still queued, in one transaction. */
async function resume(campaignId: string): Promise<number> {
  return transactionWithOutbox(db, relay, async (trx) => {
    const { round } = await trx
      .updateTable('whatsappCampaigns')
      .set((eb) => ({ status: 'running', round: eb('round', '+', 1), updatedAt: sql<Date>`now()` }))
      .where('id', '=', campaignId)
      .where('status', '=', 'paused')
      .returning('round')
      .executeTakeFirstOrThrow();
    const queued = await trx
      .selectFrom('whatsappMessages')
      .select('id')
      .where('campaignId', '=', campaignId)
      .where('status', '=', 'queued')
      .orderBy('createdAt')
      .orderBy('id')
      .execute();
    return enqueueMany(
      trx,
      JOBS['whatsapp.send'],
      queued.map((message, position) => ({
        messageId: message.id,
        slot: Math.floor(position / CAMPAIGN_SLOT_SIZE),
        round,
      })),
    );
  });
}

/** What notify's cancel does: the campaign and every message not yet handed to the provider. */
async function cancel(campaignId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('whatsappCampaigns')
      .set({ status: 'cancelled', finishedAt: sql<Date>`now()`, updatedAt: sql<Date>`now()` })
      .where('id', '=', campaignId)
      .execute();
    await trx
      .updateTable('whatsappMessages')
      .set({ status: 'cancelled', reason: 'campaign_cancelled' })
      .where('campaignId', '=', campaignId)
      .where('status', '=', 'queued')
      .execute();
  });
}

/** How many of these guardians the sandbox has taken a message for. */
function reached(guardians: { phone: string }[]): number {
  const counts = receivedBy(
    sandbox,
    guardians.map((guardian) => guardian.phone),
  );
  return [...counts.values()].filter((count) => count > 0).length;
}

describe('WhatsApp campaign lifecycle: pause, resume, cancel, stats, priorities and refusals', () => {
  relay.start();
  startWhatsAppWorkers({
    db,
    logger,
    outbox: relay,
    documents,
    whatsapp,
    prefix,
    limiter: { max: PACE, duration: 1_000 },
  });
  beforeEach(() => sandbox.reset());

  it('stops sending while paused, and after a resume sends the rest: each guardian once in all', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 300);
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await until('the first sends', async () => reached(guardians) >= 40);
    await pause(campaignId);
    // Every send queued before the pause has run: whatever is still queued now could only go out
    // if a paused campaign's send did not hold back.
    await until('the sends queued before the pause to run', sendsDrained);
    const whilePaused = await campaignMessages(db, campaignId);
    const held = whilePaused.filter((message) => message.status === 'queued');
    expect(held.length).toBeGreaterThan(0);
    expect(whilePaused.filter((message) => message.status === 'sending')).toEqual([]);
    expect(reached(guardians)).toBe(guardians.length - held.length);
    const counts = receivedBy(
      sandbox,
      held.map((message) => message.phone),
    );
    expect([...counts.values()].filter((count) => count > 0)).toEqual([]);
    expect(await campaignStatus(db, campaignId)).toBe('paused');
    // Those sends completed as paused, not as failures that could be retried later.
    const heldJob = await sendQueue.getJob(`whatsapp.send.${held[0]!.id}.r0`);
    expect(heldJob?.returnvalue).toEqual({ status: 'paused' });

    expect(await resume(campaignId)).toBe(held.length);
    await until('the resumed campaign to complete', completed(campaignId));
    const after = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    expect([...after.values()].filter((count) => count !== 1)).toEqual([]);
    const provider = link.sends().filter((send) => send.to !== undefined && after.has(send.to));
    expect(provider).toHaveLength(guardians.length);
  });

  /**
   * A campaign of three whose middle message a dead worker left `sending` (claimed, the provider
   * never reached), with the send queue held while `meanwhile` runs, so no send starts before.
   * Its round-0 job (the dead worker's, stalled and taken again) is the only one for it.
   */
  async function campaignWithCutOffSend(meanwhile: (campaignId: string) => Promise<void>) {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 3);
    await sendQueue.pause();
    try {
      const campaignId = await launchCampaign(db, relay, schoolId, templateId);
      await until('the sends to be queued', async () => {
        const counts = await sendQueue.getJobCounts('waiting', 'paused', 'prioritized');
        return Object.values(counts).reduce((sum, count) => sum + count, 0) === 3;
      });
      const cutOff = await db
        .updateTable('whatsappMessages')
        .set({ status: 'sending', attempts: 1, attemptedAt: sql<Date>`now()` })
        .where('phone', '=', guardians[1]!.phone)
        .returning('id')
        .executeTakeFirstOrThrow();
      await meanwhile(campaignId);
      return { campaignId, guardians, cutOffId: cutOff.id };
    } finally {
      await sendQueue.resume();
    }
  }

  /** Each of the three messaged once, the cut-off one sent again after the reconcile wait. */
  async function expectSettled({
    campaignId,
    guardians,
    cutOffId,
  }: {
    campaignId: string;
    guardians: { phone: string }[];
    cutOffId: string;
  }) {
    await until('the resumed campaign to complete', completed(campaignId), 20_000);
    const counts = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    expect([...counts.values()]).toEqual([1, 1, 1]);
    const message = (await campaignMessages(db, campaignId)).find((row) => row.id === cutOffId)!;
    expect(message).toMatchObject({ status: expect.stringMatching(/^(sent|delivered|read)$/), attempts: 2 });
  }

  it('keeps a cut-off send through a pause: its job waits instead of completing as paused', async () => {
    const cut = await campaignWithCutOffSend(pause);
    await until('the queued sends to complete as paused', async () => {
      const counts = await sendQueue.getJobCounts('waiting', 'prioritized', 'active');
      return Object.values(counts).every((count) => count === 0);
    });
    expect(reached(cut.guardians)).toBe(0);
    // A resume queues the two still `queued`, not the one whose outcome is unknown.
    expect(await resume(cut.campaignId)).toBe(2);
    await expectSettled(cut);
  });

  it('keeps a cut-off send whose job is of the round before a resume', async () => {
    const cut = await campaignWithCutOffSend(async (campaignId) => {
      await pause(campaignId);
      expect(await resume(campaignId)).toBe(2);
    });
    await expectSettled(cut);
  });

  it('does not send again a cut-off send whose status webhook is stored but not yet applied', async () => {
    // A crash cuts off the apply jobs of webhooks in flight with the sends: BullMQ hands both back
    // at about the same time, well after a short reconcile window has passed.
    let cutOffPhone = '';
    try {
      const { campaignId, guardians, cutOffId } = await campaignWithCutOffSend(async (id) => {
        await campaignQueue.pause();
        // The dead worker's call, which the provider took: its webhooks are stored, not applied.
        const message = await db
          .updateTable('whatsappMessages')
          .set({ attemptedAt: sql<Date>`now() - interval '5 seconds'` })
          .where('campaignId', '=', id)
          .where('status', '=', 'sending')
          .returning(['id', 'phone', 'params'])
          .executeTakeFirstOrThrow();
        cutOffPhone = message.phone;
        const outcome = await whatsapp.provider.sendTemplate({
          to: message.phone,
          template: { name: 'fee_reminder', language: 'en' },
          bodyParams: message.params as string[],
          clientReference: message.id,
        });
        expect(outcome.kind).toBe('accepted');
        await until('its status webhooks to be stored', () =>
          unappliedWebhookNames(db, message.id, new Date(0), 60_000),
        );
      });
      // More than two reconcile windows pass with the webhook unapplied: the send waits for it.
      await until('the other two to be taken', async () => reached(guardians) === 3);
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(link.sends().filter((send) => send.to === cutOffPhone)).toHaveLength(1);
      const waiting = await db
        .selectFrom('whatsappMessages')
        .select(['status', 'attempts'])
        .where('id', '=', cutOffId)
        .executeTakeFirstOrThrow();
      expect(waiting).toEqual({ status: 'sending', attempts: 1 });

      // The apply jobs come back: the webhook settles the message, and the send ends without a call.
      await campaignQueue.resume();
      await until('the campaign to complete', completed(campaignId), 20_000);
      await until('the sends to drain', sendsDrained);
      const counts = receivedBy(
        sandbox,
        guardians.map((guardian) => guardian.phone),
      );
      expect([...counts.values()]).toEqual([1, 1, 1]);
      expect(link.sends().filter((send) => send.to === cutOffPhone)).toHaveLength(1);
      const settled = (await campaignMessages(db, campaignId)).find((row) => row.id === cutOffId)!;
      expect(settled).toMatchObject({
        status: expect.stringMatching(/^(sent|delivered|read)$/),
        attempts: 1,
        providerMessageId: sandbox.received().find((message) => message.to === cutOffPhone)!
          .providerMessageId,
      });
    } finally {
      await campaignQueue.resume();
    }
  });

  it('sends nothing more once cancelled: the queued messages are cancelled, the sent ones stay sent', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 300);
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await until('the first sends', async () => reached(guardians) >= 40);
    await cancel(campaignId);
    await until('the sends queued before the cancel to run', sendsDrained);
    const messages = await campaignMessages(db, campaignId);
    const cancelled = messages.filter((message) => message.status === 'cancelled');
    expect(cancelled.length).toBeGreaterThan(0);
    const counts = receivedBy(
      sandbox,
      cancelled.map((message) => message.phone),
    );
    expect([...counts.values()].filter((count) => count > 0)).toEqual([]);
    const handedOver = messages.filter((message) => ['sent', 'delivered', 'read'].includes(message.status));
    expect(handedOver.length + cancelled.length).toBe(guardians.length);
    expect(reached(guardians)).toBe(handedOver.length);
    // A message in flight when the cancel came may finish: it must not complete the campaign.
    expect(await campaignStatus(db, campaignId)).toBe('cancelled');
  });

  it('counts every message once by status, with opted-out, invalid and refused numbers', async () => {
    const refused = [`${NOT_ON_WHATSAPP}00001`, `${NOT_ON_WHATSAPP}00002`];
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 20, {
      invalid: 2,
      phones: refused,
    });
    await db
      .insertInto('whatsappOptOuts')
      .values(
        guardians.slice(4, 7).map((guardian) => ({
          businessNumber: whatsapp.businessNumber,
          phone: guardian.phone,
          optedOut: true,
          keyword: 'stop',
        })),
      )
      .execute();
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await until('the campaign to complete', completed(campaignId));
    await until(
      'every accepted message to be read',
      async () => (await tally(campaignId)).read === 13,
      30_000,
    );
    expect(await tally(campaignId)).toEqual({
      'excluded/invalid_number': 2,
      'failed/invalid_number': 2,
      'excluded/opted_out': 3,
      read: 13,
    });
    const messages = await campaignMessages(db, campaignId);
    expect(new Set(messages.map((message) => message.guardianId)).size).toBe(guardians.length);
    expect(messages).toHaveLength(guardians.length);
    expect(sandbox.received().filter((message) => message.to.startsWith('+9198'))).toHaveLength(13);
  });

  it('records a number the provider says is not on WhatsApp as failed, and does not try it again', async () => {
    const phone = `${NOT_ON_WHATSAPP}00003`;
    const { schoolId, templateId } = await schoolWithFamilies(db, 2, { phones: [phone] });
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await until('the campaign to complete', completed(campaignId));
    await until('the sends to finish', sendsDrained);
    const message = (await campaignMessages(db, campaignId)).find((row) => row.phone === phone)!;
    expect(message).toMatchObject({
      status: 'failed',
      reason: 'invalid_number',
      errorCode: '131026',
      attempts: 1,
    });
    expect(message.failedAt).not.toBeNull();
    expect(link.sends().filter((send) => send.to === phone)).toHaveLength(1);
    expect(receivedBy(sandbox, [phone]).get(phone)).toBe(0);
    expect(await sendQueue.getJobState(`whatsapp.send.${message.id}.r0`)).toBe('completed');
  });

  it('sends a receipt ahead of a large campaign’s backlog', async () => {
    const campaign = await schoolWithFamilies(db, 400);
    const payer = await schoolWithFamilies(db, 1);
    const receiptTemplate = await db
      .insertInto('whatsappTemplates')
      .values({
        schoolId: payer.schoolId,
        name: 'payment_receipt',
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, we received {{2}} for {{3}}.',
        paramCount: 3,
        purpose: 'receipt',
        status: 'approved',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const campaignId = await launchCampaign(db, relay, campaign.schoolId, campaign.templateId);
    await until('the campaign to be sending', async () => reached(campaign.guardians) >= 20);

    // As the transactional processor stores and queues a receipt: no slot, so no priority.
    const receiptId = await transactionWithOutbox(db, relay, async (trx) => {
      const row = await trx
        .insertInto('whatsappMessages')
        .values({
          schoolId: payer.schoolId,
          purpose: 'receipt',
          guardianId: payer.guardians[0]!.id,
          phone: payer.guardians[0]!.phone,
          templateId: receiptTemplate.id,
          params: JSON.stringify(['Parent 0', '₹500.00', 'Kid0']),
          dedupeKey: `receipt:${randomUUID()}`,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await enqueue(trx, JOBS['whatsapp.send'], { messageId: row.id });
      return row.id;
    });
    await until('the receipt', async () =>
      sandbox.received().some((message) => message.clientReference === receiptId),
    );
    const receiptAt = sandbox.received().find((message) => message.clientReference === receiptId)!.receivedAt;
    await until('the campaign to complete', completed(campaignId));

    const campaignPhones = new Set(campaign.guardians.map((guardian) => guardian.phone));
    const afterReceipt = sandbox
      .received()
      .filter((message) => campaignPhones.has(message.to) && message.receivedAt > receiptAt).length;
    // Sent in the order queued it would have waited for all 400; ahead of them, most come after it.
    expect(afterReceipt).toBeGreaterThanOrEqual(campaign.guardians.length / 2);
    console.info(
      `whatsapp receipt: sent with ${afterReceipt} of ${campaign.guardians.length} campaign messages still to go`,
    );
  });
});
