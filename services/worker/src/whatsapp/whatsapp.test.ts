import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Queue, type Worker } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { JOBS, type MessageParam } from '@bursar/contracts';
import { createDb } from '@bursar/db';
import { applyPayment } from '@bursar/ledger';
import {
  createLogger,
  createOutboxRelay,
  createQueueWorker,
  createRedis,
  enqueue,
  jobHandler,
  transactionWithOutbox,
} from '@bursar/platform';
import {
  daysFromToday,
  dbBuilders,
  freshDatabase,
  testQueuePrefix,
  testRedisUrl,
  waitUntil,
} from '@bursar/test-support';
import { startWhatsAppSandbox } from '@bursar/whatsapp/testing';
import { processors } from '../processors.js';
import { testDocuments } from '../documents/documents.testing.js';
import { testWhatsAppDeps } from './whatsapp.testing.js';
import { OPT_OUT_REPLY } from './events.processor.js';
import { processReminders } from './transactional.processor.js';

const { url: databaseUrl } = await freshDatabase();
// As many connections as the workers run jobs at once, as a deployment sizes its pool.
const db = createDb(databaseUrl, { max: 40, applicationName: 'whatsapp-test' });
afterAll(() => db.destroy());
const logger = createLogger('whatsapp-test', (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
const prefix = testQueuePrefix();
const producer = createRedis(testRedisUrl(), 'producer');
const relay = createOutboxRelay({ db, redis: producer, prefix, logger, sweepIntervalMs: 100 });
const builders = dbBuilders(db);
const sendQueue = new Queue('whatsapp-send', { connection: producer, prefix });

/** What notify's receiver does with a verified webhook: the inbox row and its apply job, in one transaction. */
async function storeWebhook(provider: 'meta' | 'gupshup', body: Buffer): Promise<void> {
  await transactionWithOutbox(db, relay, async (trx) => {
    const row = await trx
      .insertInto('whatsappEvents')
      .values({ provider, body, bodyHash: createHash('sha256').update(body).digest('hex') })
      .onConflict((conflict) => conflict.columns(['provider', 'bodyHash']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (row) await enqueue(trx, JOBS['whatsapp-event.apply'], { eventId: row.id });
  });
}

const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void storeWebhook('meta', Buffer.concat(chunks)).then(
      () => res.end('{}'),
      () => {
        res.statusCode = 500;
        res.end();
      },
    );
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');
const sandbox = await startWhatsAppSandbox({
  webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
  statusDelayMs: 5,
});
const whatsapp = testWhatsAppDeps({ apiBase: sandbox.url, sendQueue, reconcileAfterMs: 2_000 });
const documents = testDocuments(db, logger);

afterAll(async () => {
  await sandbox.close();
  receiver.close();
  await relay.stop();
  await sendQueue.obliterate({ force: true });
  await sendQueue.close();
  await producer.quit();
});

/** The production processors of both WhatsApp queues, on real BullMQ workers (sends limited to 1,000/s). */
function startWorkers(): Worker[] {
  const connection = createRedis(testRedisUrl(), 'worker');
  const handlersOf = (queue: string) =>
    Object.values(JOBS)
      .filter((definition) => definition.queue === queue)
      .map((definition) =>
        jobHandler(definition, (payload, job) =>
          (processors as Record<string, (payload: unknown, context: unknown) => Promise<unknown>>)[
            definition.name
          ]!(payload, { db, logger, outbox: relay, documents, whatsapp, job }),
        ),
      );
  const workers = [
    createQueueWorker('whatsapp-campaign', handlersOf('whatsapp-campaign'), {
      connection,
      prefix,
      logger,
      db,
    }),
    createQueueWorker('whatsapp-send', handlersOf('whatsapp-send'), {
      connection,
      prefix,
      logger,
      db,
      concurrency: 32,
      limiter: { max: 1_000, duration: 1_000 },
    }),
  ];
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    await connection.quit();
  });
  return workers;
}

let phoneCounter = 0;
/** A valid Indian mobile number of this run (the sandbox's invalid prefix is +1555000). */
function nextPhone(): string {
  phoneCounter += 1;
  return `+9198${String(Date.now() % 1_000_000)
    .padStart(6, '0')
    .slice(0, 2)}${String(phoneCounter).padStart(6, '0')}`;
}

/** A school with `count` students, each with a primary guardian and an open invoice, and an approved template. */
async function schoolWithFamilies(count: number, options: { invalid?: number } = {}) {
  const schoolId = await builders.school({ name: 'Sunrise School' });
  const template = await db
    .insertInto('whatsappTemplates')
    .values({
      schoolId,
      name: 'fee_reminder',
      language: 'en',
      category: 'utility',
      body: 'Dear {{1}}, {{2}} is due for {{3}}.',
      paramCount: 3,
      status: 'approved',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const phones = Array.from({ length: count }, (_, index) =>
    index < (options.invalid ?? 0) ? `+1555000${String(index).padStart(4, '0')}` : nextPhone(),
  );
  // Written in bulk, with the render triggers off: these tests are about messages, not PDFs.
  const guardians = await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    const { rows } = await sql<{ id: string; phone: string }>`
      with family as (
        select n, phone from unnest(${phones}::text[]) with ordinality as p(phone, n)
      ), student as (
        insert into students (school_id, first_name, last_name, admission_no)
        select ${schoolId}, 'Kid' || (n - 1), 'Rao', 'W-' || ${schoolId}::text || '-' || n from family
        returning id, admission_no
      ), guardian as (
        insert into guardians (school_id, name, phone)
        select ${schoolId}, 'Parent ' || (n - 1), phone from family
        returning id, phone
      ), link as (
        insert into student_guardians (school_id, student_id, guardian_id, relation, is_primary_payer)
        select ${schoolId}, s.id, g.id, 'mother', true
        from family f
        join student s on s.admission_no = 'W-' || ${schoolId}::text || '-' || f.n
        join guardian g on g.phone = f.phone
        returning student_id
      ), invoice as (
        insert into invoices (school_id, student_id, number, currency, issue_date, due_date, total_minor)
        select ${schoolId}, student_id, 'INV-W-' || row_number() over (), 'INR', ${daysFromToday(-10, 'Asia/Kolkata')}::date,
               ${daysFromToday(5, 'Asia/Kolkata')}::date, 50000
        from link
        returning id
      )
      select g.id, g.phone from guardian g order by g.phone
    `.execute(trx);
    return rows;
  });
  // In the order made, so guardians[i] is "Parent i".
  guardians.sort((a, b) => phones.indexOf(a.phone) - phones.indexOf(b.phone));
  return { schoolId, templateId: template.id, guardians };
}

async function launch(
  schoolId: string,
  templateId: string,
  params: MessageParam[] = ['guardian.name', 'invoice.balance', 'student.firstName'],
) {
  const campaign = await db
    .insertInto('whatsappCampaigns')
    .values({
      schoolId,
      name: 'Term 2 fees',
      templateId,
      params: JSON.stringify(params),
      audience: '{}',
      status: 'launching',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await transactionWithOutbox(db, relay, (trx) =>
    enqueue(trx, JOBS['whatsapp-campaign.launch'], { campaignId: campaign.id }),
  );
  return campaign.id;
}

async function campaignMessages(campaignId: string) {
  return db.selectFrom('whatsappMessages').selectAll().where('campaignId', '=', campaignId).execute();
}

/** How many times the sandbox accepted a message for each of these numbers. */
function receivedBy(phones: string[]): Map<string, number> {
  const counts = new Map(phones.map((phone) => [phone, 0]));
  for (const message of sandbox.received()) {
    if (counts.has(message.to)) counts.set(message.to, counts.get(message.to)! + 1);
  }
  return counts;
}

describe('WhatsApp campaigns and messages through the worker and the sandbox provider', () => {
  relay.start();
  startWorkers();
  beforeEach(() => sandbox.reset());

  it('sends a campaign once to each guardian, leaves out opted-out and invalid numbers, and follows statuses', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(12, { invalid: 1 });
    await db
      .insertInto('whatsappOptOuts')
      .values({
        businessNumber: whatsapp.businessNumber,
        phone: guardians[1]!.phone,
        optedOut: true,
        keyword: 'stop',
      })
      .execute();
    const campaignId = await launch(schoolId, templateId);
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
        const messages = await campaignMessages(campaignId);
        return messages.filter((message) => message.status === 'read').length === 10;
      },
      30_000,
    );
    const messages = await campaignMessages(campaignId);
    expect(messages).toHaveLength(12);
    expect(messages.filter((message) => message.reason === 'invalid_number')).toHaveLength(1);
    expect(messages.filter((message) => message.reason === 'opted_out')).toHaveLength(1);
    const counts = receivedBy(guardians.map((guardian) => guardian.phone));
    expect(counts.get(guardians[0]!.phone)).toBe(0);
    expect(counts.get(guardians[1]!.phone)).toBe(0);
    expect([...counts.values()].filter((count) => count === 1)).toHaveLength(10);
    // Parameters are the facts, formatted as the school prints them.
    const first = sandbox.received().find((message) => message.to === guardians[2]!.phone)!;
    expect(first.params).toEqual(['Parent 2', '₹500.00', 'Kid2']);
    expect(first.clientReference).toBe(messages.find((message) => message.phone === guardians[2]!.phone)!.id);
  });

  it('backs the queue off while the provider answers 429, and still messages each of 2,000 guardians exactly once', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(2_000);
    sandbox.setFault({ kind: '429', forMs: 1_500 });
    const campaignId = await launch(schoolId, templateId);
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
    const counts = receivedBy(guardians.map((guardian) => guardian.phone));
    expect([...counts.values()].filter((count) => count !== 1)).toEqual([]);
    const messages = await campaignMessages(campaignId);
    expect(messages.filter((message) => message.status === 'failed')).toEqual([]);
  }, 180_000);

  it('opts a guardian out on STOP (with a reply), leaves them out of the next campaign, and back in on START', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(3);
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
    const left = await launch(schoolId, templateId);
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
    expect((await campaignMessages(left)).find((message) => message.phone === phone)).toMatchObject({
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
    const back = await launch(schoolId, templateId);
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
    expect((await campaignMessages(back)).find((message) => message.phone === phone)?.status).not.toBe(
      'excluded',
    );
  });

  it('honours a school word for stop (बंद)', async () => {
    const { schoolId, guardians } = await schoolWithFamilies(1);
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
    const { schoolId, templateId } = await schoolWithFamilies(2);
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
    const campaignId = await launch(schoolId, templateId);
    await waitUntil('the sends to be held', async () => {
      const jobs = await sendQueue.getDelayed();
      const messages = await campaignMessages(campaignId);
      return (
        messages.length === 2 &&
        jobs.filter((job) => messages.some((m) => job.id?.includes(m.id))).length === 2
      );
    });
    expect((await campaignMessages(campaignId)).map((message) => message.status)).toEqual([
      'queued',
      'queued',
    ]);
  });

  it('applies statuses forward only: a late delivered never undoes read', async () => {
    const { schoolId, templateId } = await schoolWithFamilies(1);
    sandbox.setStatusPlan({ statuses: ['read', 'delivered', 'sent'] });
    const campaignId = await launch(schoolId, templateId);
    await waitUntil('the statuses', async () => {
      const [message] = await campaignMessages(campaignId);
      return Boolean(message?.readAt && message.deliveredAt);
    });
    const [message] = await campaignMessages(campaignId);
    expect(message!.status).toBe('read');
  });

  it('stops a reminder once its invoice is paid', async () => {
    const { schoolId, guardians } = await schoolWithFamilies(1);
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
    expect(receivedBy([guardians[0]!.phone]).get(guardians[0]!.phone)).toBe(0);
  });
});
