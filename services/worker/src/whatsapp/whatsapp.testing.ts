/**
 * Test helpers for the WhatsApp processors: the dependencies a worker runs
 * with against the sandbox provider, families written in bulk, a stand-in
 * for notify's webhook inbox, the production processors on real BullMQ
 * workers, and a link to the provider that can be made slow. Only tests
 * import this file.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue, type Worker } from 'bullmq';
import { sql, type Kysely } from 'kysely';
import { afterAll } from 'vitest';
import { JOBS, type MessageParam } from '@bursar/contracts';
import { createDb, type DB } from '@bursar/db';
import type { PublishDeps } from '@bursar/documents';
import { documentUrl, payPageUrl } from '@bursar/payments';
import {
  createLogger,
  createOutboxRelay,
  createQueueWorker,
  createRedis,
  enqueue,
  jobHandler,
  transactionWithOutbox,
  type Logger,
  type OutboxRelay,
} from '@bursar/platform';
import {
  daysFromToday,
  dbBuilders,
  freshDatabase,
  testQueuePrefix,
  testRedisUrl,
} from '@bursar/test-support';
import { whatsappConfigSchema, createWhatsAppProvider } from '@bursar/whatsapp';
import {
  startWhatsAppSandbox,
  type WhatsAppSandbox,
  type WhatsAppSandboxOptions,
} from '@bursar/whatsapp/testing';
import { processors } from '../processors.js';
import type { WhatsAppDeps } from './context.js';

/** The public address the test pay links and document links are signed for. */
export const TEST_PUBLIC_URL = 'http://127.0.0.1:8080';
/** The key test pay links are signed with. */
export const TEST_LINK_SECRET = 'test_pay_link_secret_0123';

/**
 * The WhatsApp dependencies a worker runs with, speaking to a sandbox
 * provider at `apiBase` (none given: a closed port, for tests whose
 * processors never send).
 */
export function testWhatsAppDeps(
  options: {
    apiBase?: string;
    sendQueue?: WhatsAppDeps['sendQueue'];
    reconcileAfterMs?: number;
    env?: Record<string, string>;
  } = {},
): WhatsAppDeps {
  const config = whatsappConfigSchema.parse({
    WHATSAPP_PROVIDER: 'sandbox',
    WHATSAPP_API_BASE: options.apiBase ?? 'http://127.0.0.1:9',
    ...options.env,
  });
  return {
    provider: createWhatsAppProvider(config),
    businessNumber: config.WHATSAPP_PHONE_NUMBER_ID,
    sendQueue: options.sendQueue ?? { rateLimit: async () => {} },
    reconcileAfterMs: options.reconcileAfterMs ?? 60_000,
    documentUrl: (kind, id) => documentUrl(TEST_PUBLIC_URL, TEST_LINK_SECRET, kind, id),
    payLink: (id) => payPageUrl(TEST_PUBLIC_URL, TEST_LINK_SECRET, id),
  };
}

let phoneCounter = 0;
/** A valid Indian mobile number of this run (the sandbox's invalid prefix is +1555000). */
export function nextPhone(): string {
  phoneCounter += 1;
  return `+9198${String(Date.now() % 1_000_000)
    .padStart(6, '0')
    .slice(0, 2)}${String(phoneCounter).padStart(6, '0')}`;
}

/**
 * A school with `count` students, each with a primary guardian and an open
 * invoice, and an approved three-parameter template. The first `invalid`
 * guardians have numbers libphonenumber refuses (the sandbox's `+1555000…`),
 * the next ones `phones` when given, the rest fresh valid numbers.
 * `guardians[i]` is "Parent i".
 */
export async function schoolWithFamilies(
  db: Kysely<DB>,
  count: number,
  options: { invalid?: number; phones?: string[] } = {},
) {
  const schoolId = await dbBuilders(db).school({ name: 'Sunrise School' });
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
  const invalid = options.invalid ?? 0;
  const given = options.phones ?? [];
  const phones = Array.from({ length: count }, (_, index) =>
    index < invalid ? `+1555000${String(index).padStart(4, '0')}` : (given[index - invalid] ?? nextPhone()),
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
  guardians.sort((a, b) => phones.indexOf(a.phone) - phones.indexOf(b.phone));
  return { schoolId, templateId: template.id, guardians };
}

/** A campaign of `templateId` to the whole school, launched as notify launches one (its job through the outbox). */
export async function launchCampaign(
  db: Kysely<DB>,
  outbox: Pick<OutboxRelay, 'kick'>,
  schoolId: string,
  templateId: string,
  params: MessageParam[] = ['guardian.name', 'invoice.balance', 'student.firstName'],
): Promise<string> {
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
  await transactionWithOutbox(db, outbox, (trx) =>
    enqueue(trx, JOBS['whatsapp-campaign.launch'], { campaignId: campaign.id }),
  );
  return campaign.id;
}

/** Every message row of the campaign. */
export async function campaignMessages(db: Kysely<DB>, campaignId: string) {
  return db.selectFrom('whatsappMessages').selectAll().where('campaignId', '=', campaignId).execute();
}

/** The campaign's status now. */
export async function campaignStatus(db: Kysely<DB>, campaignId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('whatsappCampaigns')
    .select('status')
    .where('id', '=', campaignId)
    .executeTakeFirst();
  return row?.status;
}

/** How many times the sandbox accepted a message for each of these numbers. */
export function receivedBy(sandbox: WhatsAppSandbox, phones: string[]): Map<string, number> {
  const counts = new Map(phones.map((phone) => [phone, 0]));
  for (const message of sandbox.received()) {
    if (counts.has(message.to)) counts.set(message.to, counts.get(message.to)! + 1);
  }
  return counts;
}

/** What notify's receiver does with a verified webhook: the inbox row and its apply job, in one transaction. */
export async function storeWebhook(
  db: Kysely<DB>,
  outbox: Pick<OutboxRelay, 'kick'>,
  provider: 'meta' | 'gupshup',
  body: Buffer,
): Promise<void> {
  await transactionWithOutbox(db, outbox, async (trx) => {
    const row = await trx
      .insertInto('whatsappEvents')
      .values({ provider, body, bodyHash: createHash('sha256').update(body).digest('hex') })
      .onConflict((conflict) => conflict.columns(['provider', 'bodyHash']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (row) await enqueue(trx, JOBS['whatsapp-event.apply'], { eventId: row.id });
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * notify's Meta webhook route as far as the worker cares: every POST is
 * stored with {@link storeWebhook} (signatures are notify's to check, and
 * its tests do). Answers 500 when the store fails, so the sandbox retries as
 * Meta would. Closed when the file's tests end.
 */
export async function startWebhookInbox(
  db: Kysely<DB>,
  outbox: Pick<OutboxRelay, 'kick'>,
): Promise<{ url: string }> {
  const server = createServer((req, res) => {
    void readBody(req)
      .then((body) => storeWebhook(db, outbox, 'meta', body))
      .then(
        () => res.end('{}'),
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The sandbox's kept-alive connections would otherwise hold close() open.
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** One send that went over a {@link ProviderLink}. */
export interface LinkedSend {
  to: string | undefined;
  /** When it reached the link (`Date.now()`). */
  at: number;
  /** Bursar's message id, which Meta echoes as `biz_opaque_callback_data`. */
  clientReference: string | undefined;
  /** The provider's HTTP status; undefined while it has not answered (or never did). */
  providerStatus?: number;
  /** The id the provider gave the message, when it took it. */
  providerMessageId?: string;
  /** The provider's answer was handed to the sender; false when the sender was gone before it came back. */
  answered: boolean;
}

/** A link between the worker and the provider (see {@link startProviderLink}). */
export interface ProviderLink {
  /** Where to point `WHATSAPP_API_BASE`. */
  url: string;
  /** Every send over the link, in the order they arrived. */
  sends(): LinkedSend[];
}

/**
 * A network path to the provider that passes each request on at once and
 * holds the provider's answer for `holdMs` before handing it back, as a slow
 * round trip does: the provider has taken the message well before the
 * sender hears so. It records every send and whether its answer reached the
 * sender, so a test can tell which messages the provider took while the
 * worker never learnt of it. A sender that goes away aborts its request to
 * the provider (a held `timeout` fault ends with it). Closed when the file's
 * tests end.
 */
export async function startProviderLink(
  upstream: string,
  options: { holdMs?: number } = {},
): Promise<ProviderLink> {
  const sends: LinkedSend[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      let request: { to?: string; biz_opaque_callback_data?: string } = {};
      try {
        request = JSON.parse(body.toString('utf8')) as typeof request;
      } catch {
        // Not a Meta send (Gupshup speaks forms): passed on all the same, just not read.
      }
      const send: LinkedSend = {
        to: request.to === undefined ? undefined : `+${request.to.replace(/^\+/, '')}`,
        at: Date.now(),
        clientReference: request.biz_opaque_callback_data,
        answered: false,
      };
      sends.push(send);
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'apikey']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      let status: number;
      let answer: Buffer;
      let contentType: string;
      try {
        const response = await fetch(new URL(req.url ?? '/', upstream), {
          method: req.method ?? 'POST',
          headers,
          ...(body.length ? { body } : {}),
          signal: gone.signal,
        });
        answer = Buffer.from(await response.arrayBuffer());
        status = response.status;
        contentType = response.headers.get('content-type') ?? 'application/json';
      } catch {
        if (!gone.signal.aborted) {
          res.statusCode = 502;
          res.end();
        }
        return;
      }
      send.providerStatus = status;
      try {
        const parsed = JSON.parse(answer.toString('utf8')) as { messages?: { id?: string }[] };
        send.providerMessageId = parsed.messages?.[0]?.id;
      } catch {
        // An error page: no message id to record.
      }
      if (options.holdMs) await delay(options.holdMs);
      if (gone.signal.aborted) return;
      res.writeHead(status, { 'content-type': contentType });
      res.end(answer, () => {
        send.answered = true;
      });
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sends: () => sends.map((send) => ({ ...send })),
  };
}

/**
 * The production processors of both WhatsApp queues on real BullMQ workers
 * in this process, as the worker wires them (sends paced by `limiter`,
 * 1,000/s unless told). Closed when the file's tests end.
 */
export function startWhatsAppWorkers(deps: {
  db: Kysely<DB>;
  logger: Logger;
  outbox: OutboxRelay;
  documents: PublishDeps;
  whatsapp: WhatsAppDeps;
  prefix: string;
  limiter?: { max: number; duration: number };
  sendConcurrency?: number;
}): Worker[] {
  const { db, logger, outbox, documents, whatsapp, prefix } = deps;
  const connection = createRedis(testRedisUrl(), 'worker');
  const handlersOf = (queue: string) =>
    Object.values(JOBS)
      .filter((definition) => definition.queue === queue)
      .map((definition) =>
        jobHandler(definition, (payload, job) =>
          (processors as Record<string, (payload: unknown, context: unknown) => Promise<unknown>>)[
            definition.name
          ]!(payload, { db, logger, outbox, documents, whatsapp, job }),
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
      concurrency: deps.sendConcurrency ?? 32,
      limiter: deps.limiter ?? { max: 1_000, duration: 1_000 },
    }),
  ];
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    await connection.quit();
  });
  return workers;
}

/**
 * What a WhatsApp test file runs against, each file its own: a fresh
 * database, a queue prefix, an outbox relay (sweeping every 100 ms), the send
 * and campaign queues, notify's webhook inbox stand-in and the sandbox
 * provider posting its statuses to it (5 ms after a send unless told). All of
 * it is closed, and the queues emptied, after the file's tests.
 */
export async function whatsappTestBed(
  name: string,
  options: { poolMax?: number; sandbox?: Omit<WhatsAppSandboxOptions, 'webhookUrl'> } = {},
) {
  const { url: databaseUrl } = await freshDatabase();
  const db = createDb(databaseUrl, { max: options.poolMax ?? 40, applicationName: name });
  const logger = createLogger(name, (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
  const prefix = testQueuePrefix();
  const producer = createRedis(testRedisUrl(), 'producer');
  const relay = createOutboxRelay({ db, redis: producer, prefix, logger, sweepIntervalMs: 100 });
  const sendQueue = new Queue('whatsapp-send', { connection: producer, prefix });
  const campaignQueue = new Queue('whatsapp-campaign', { connection: producer, prefix });
  const inbox = await startWebhookInbox(db, relay);
  const sandbox = await startWhatsAppSandbox({ webhookUrl: inbox.url, statusDelayMs: 5, ...options.sandbox });
  afterAll(async () => {
    await sandbox.close();
    await relay.stop();
    for (const queue of [sendQueue, campaignQueue]) {
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await producer.quit();
    await db.destroy();
  });
  return { db, logger, prefix, relay, sendQueue, campaignQueue, sandbox };
}
