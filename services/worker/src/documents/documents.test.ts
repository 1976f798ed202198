import { Queue, type Worker } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { JOBS, formatMoney } from '@bursar/contracts';
import { latestDocument } from '@bursar/documents';
import { applyPayment, deleteInvoice, issueInvoice, voidInvoice } from '@bursar/ledger';
import {
  createLogger,
  createOutboxRelay,
  createQueueWorker,
  createRedis,
  jobHandler,
  jobOptionsOf,
} from '@bursar/platform';
import {
  daysFromToday,
  dbBuilders,
  freshDatabase,
  pdfText,
  testQueuePrefix,
  testRedisUrl,
} from '@bursar/test-support';
import { processors } from '../processors.js';
import { testDocuments } from './documents.testing.js';
import { testWhatsAppDeps } from '../whatsapp/whatsapp.testing.js';
import { processInvoicePdf } from './documents.processor.js';
import { createDocumentDeps } from '@bursar/documents';
import { createStorage, storageConfigSchema, StorageError } from '@bursar/storage';
import { startS3Server } from '@bursar/storage/testing';
import { UnrecoverableError } from 'bullmq';

const { db } = await freshDatabase();
const logger = createLogger('documents-test', 'silent');
const prefix = testQueuePrefix();
const producer = createRedis(testRedisUrl(), 'producer');
const relay = createOutboxRelay({ db, redis: producer, prefix, logger, sweepIntervalMs: 100 });
const documents = testDocuments(db, logger);
const builders = dbBuilders(db);
const queue = new Queue('invoice-pdf', { connection: producer, prefix });
afterAll(async () => {
  await relay.stop();
  await queue.obliterate({ force: true });
  await queue.close();
  await producer.quit();
});

/** A real BullMQ worker on this file's prefix running every invoice-pdf job with the production processors. */
function startWorker(): Worker {
  const connection = createRedis(testRedisUrl(), 'worker');
  const definitions = Object.values(JOBS).filter((definition) => definition.queue === 'invoice-pdf');
  const worker = createQueueWorker(
    'invoice-pdf',
    definitions.map((definition) =>
      jobHandler(definition, (payload, job) =>
        (processors as Record<string, (payload: unknown, context: unknown) => Promise<unknown>>)[
          definition.name
        ]!(payload, { db, logger, outbox: relay, documents, whatsapp: testWhatsAppDeps(), job }),
      ),
    ),
    { connection, prefix, logger, concurrency: 2, db },
  );
  afterAll(async () => {
    await worker.close();
    await connection.quit();
  });
  return worker;
}

async function issue(schoolId: string, studentId: string, amountMinor: bigint, description = 'Tuition fee') {
  return db.transaction().execute((trx) =>
    issueInvoice(trx, {
      schoolId,
      studentId,
      issueDate: daysFromToday(0),
      dueDate: daysFromToday(14),
      lines: [{ description, quantity: 1, unitAmountMinor: amountMinor }],
    }),
  );
}

async function waitFor<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function storedPdf(invoiceId: string, minVersion = 1) {
  const document = await waitFor(async () => {
    const latest = await latestDocument(db, 'invoice', invoiceId);
    return latest && latest.version >= minVersion ? latest : undefined;
  }, `version ${minVersion} of invoice ${invoiceId}`);
  const bytes = await documents.storage.getBuffer(document.storageKey);
  expect(bytes).not.toBeNull();
  return { document, bytes: bytes!, text: pdfText(bytes!) };
}

describe('invoice PDFs from the ledger, through the outbox and the worker', () => {
  relay.start();
  startWorker();

  it('asks for a render in the transaction of every change the triggers watch, with the catalog job', async () => {
    const schoolId = await builders.school();
    const studentId = await builders.student(schoolId);
    const invoiceId = await issue(schoolId, studentId, 50_000n);
    const rows = await db
      .selectFrom('outbox')
      .select(['jobName', 'queue', 'version', 'options', 'payload'])
      .where('jobName', '=', 'invoice-pdf.render')
      .where(sql<boolean>`payload->>'invoiceId' = ${invoiceId}`)
      .execute();
    const mine = rows;
    expect(mine).toHaveLength(1);
    const definition = JOBS['invoice-pdf.render'];
    expect(mine[0]).toMatchObject({ queue: definition.queue, version: definition.version });
    // The trigger's options are the catalog's: retries, backoff and retention as for any enqueue.
    expect(mine[0]!.options).toEqual(JSON.parse(JSON.stringify(jobOptionsOf(definition))));
    expect(definition.payload.safeParse(mine[0]!.payload).success).toBe(true);
    const receipt = JOBS['receipt-pdf.render'];
    expect(jobOptionsOf(receipt)).toEqual(jobOptionsOf(definition));
    expect(receipt.version).toBe(definition.version);
  });

  it('renders an issued invoice, and a new version with the new balance after a payment', async () => {
    const schoolId = await builders.school({ currency: 'INR', locale: 'en-IN' });
    const studentId = await builders.student(schoolId, { firstName: 'आशा', lastName: 'Verma' });
    const invoiceId = await issue(schoolId, studentId, 125_000n, 'Term 2 tuition');
    const first = await storedPdf(invoiceId);
    expect(first.document).toMatchObject({ version: 1, status: 'pending', balanceMinor: 125_000n });
    expect(first.text).toContain('Term 2 tuition');
    expect(first.text).toContain('आशा');
    expect(first.text).toContain(formatMoney(125_000n, 'INR', 'en-IN'));

    await db
      .transaction()
      .execute((trx) => applyPayment(trx, { schoolId, invoiceId, amountMinor: 25_000n, method: 'cash' }));
    const second = await storedPdf(invoiceId, 2);
    expect(second.document).toMatchObject({ status: 'partial', balanceMinor: 100_000n });
    expect(second.text).toContain(formatMoney(100_000n, 'INR', 'en-IN'));
    expect(second.document.storageKey).not.toBe(first.document.storageKey);
    // The old version is kept.
    expect(await documents.storage.exists(first.document.storageKey)).toBe(true);

    // The payment's receipt is rendered too.
    const receipt = await waitFor(async () => {
      const payment = await db
        .selectFrom('payments')
        .select('id')
        .where('invoiceId', '=', invoiceId)
        .executeTakeFirst();
      return payment && (await latestDocument(db, 'receipt', payment.id));
    }, 'the receipt');
    const receiptText = pdfText((await documents.storage.getBuffer(receipt.storageKey))!);
    expect(receiptText).toContain(formatMoney(25_000n, 'INR', 'en-IN'));
    expect(receiptText).toContain(formatMoney(100_000n, 'INR', 'en-IN'));
  });

  it('skips a render that would change nothing, and renders the same bytes for the same state', async () => {
    const schoolId = await builders.school();
    const studentId = await builders.student(schoolId);
    const invoiceId = await issue(schoolId, studentId, 10_000n);
    const first = await storedPdf(invoiceId);
    const again = await processInvoicePdf({ invoiceId }, { documents });
    expect(again).toEqual({ version: first.document.version, rendered: false, pages: first.document.pages });
    // Rendered afresh from the same state (the row removed so nothing is skipped): the same bytes.
    await db.deleteFrom('documents').where('id', '=', BigInt(first.document.id)).execute();
    const rerendered = await processInvoicePdf({ invoiceId }, { documents });
    expect(rerendered.rendered).toBe(true);
    const latest = (await latestDocument(db, 'invoice', invoiceId))!;
    expect(latest.contentHash).toBe(first.document.contentHash);
    expect((await documents.storage.getBuffer(latest.storageKey))!.equals(first.bytes)).toBe(true);
  });

  it('stamps a voided invoice VOID with its reason', async () => {
    const schoolId = await builders.school();
    const studentId = await builders.student(schoolId);
    const invoiceId = await issue(schoolId, studentId, 10_000n);
    await storedPdf(invoiceId);
    await db.transaction().execute((trx) => voidInvoice(trx, schoolId, invoiceId, 'Issued twice by mistake'));
    const voided = await storedPdf(invoiceId, 2);
    expect(voided.document.status).toBe('void');
    expect(voided.text).toContain('VOID');
    expect(voided.text).toContain('Issued twice by mistake');
  });

  it('fails a render for good, with the reason on the job, when the invoice no longer exists', async () => {
    const schoolId = await builders.school();
    const studentId = await builders.student(schoolId);
    const invoiceId = await issue(schoolId, studentId, 10_000n);
    await storedPdf(invoiceId);
    await db.transaction().execute((trx) => deleteInvoice(trx, schoolId, invoiceId));
    const job = await queue.add(
      'invoice-pdf.render',
      { v: 1, payload: { invoiceId, schoolId, revision: 'gone' }, trace: {} },
      { ...jobOptionsOf(JOBS['invoice-pdf.render']), jobId: `invoice-pdf.render.${invoiceId}.gone` },
    );
    const failed = await waitFor(async () => {
      const current = await queue.getJob(job.id!);
      return current?.failedReason ? current : undefined;
    }, 'the job to fail');
    expect(failed.failedReason).toBe(`invoice ${invoiceId} no longer exists`);
    expect(failed.attemptsMade).toBe(1);
  });

  it('stores documents in S3-compatible object storage as in the filesystem', async () => {
    const s3 = await startS3Server();
    afterAll(() => s3.close());
    const storage = createStorage(storageConfigSchema.parse(s3.env));
    const deps = createDocumentDeps({ db, storage, payLink: () => null, logger });
    const schoolId = await builders.school({ currency: 'EUR', locale: 'de-DE' });
    const studentId = await builders.student(schoolId, { firstName: 'Łukasz', lastName: 'Wójcik' });
    const invoiceId = await db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      return issueInvoice(trx, {
        schoolId,
        studentId,
        issueDate: daysFromToday(0),
        dueDate: daysFromToday(14),
        lines: [{ description: 'Schulgeld', quantity: 1, unitAmountMinor: 125_000n }],
      });
    });
    const result = await processInvoicePdf({ invoiceId }, { documents: deps });
    expect(result).toMatchObject({ version: 1, rendered: true });
    const stored = (await latestDocument(db, 'invoice', invoiceId))!;
    const text = pdfText((await storage.getBuffer(stored.storageKey))!);
    expect(text).toContain('Łukasz Wójcik');
    expect(text).toContain('1.250,00 €');
  });

  it('retries, storing nothing, while storage cannot be reached', async () => {
    const storage = createStorage(
      storageConfigSchema.parse({
        STORAGE_DRIVER: 's3',
        S3_BUCKET: 'documents',
        S3_ENDPOINT: 'http://127.0.0.1:9',
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: 'key',
        S3_SECRET_ACCESS_KEY: 'secret',
      }),
    );
    const deps = createDocumentDeps({ db, storage, payLink: () => null, logger });
    const schoolId = await builders.school();
    const studentId = await builders.student(schoolId);
    const id = await db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      return issueInvoice(trx, {
        schoolId,
        studentId,
        issueDate: daysFromToday(0),
        dueDate: daysFromToday(14),
        lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: 10_000n }],
      });
    });
    const failure = await processInvoicePdf({ invoiceId: id }, { documents: deps }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StorageError);
    expect(failure).not.toBeInstanceOf(UnrecoverableError);
    expect((failure as StorageError).transient).toBe(true);
    expect(await latestDocument(db, 'invoice', id)).toBeUndefined();
  });
});
