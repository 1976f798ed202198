/**
 * Bulk invoice PDFs end to end: the api makes the batch, the worker (as
 * deployed, a process of its own) renders it, the api streams the zip. Also
 * a worker killed part way: the batch still finishes, each invoice once.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import yauzl from 'yauzl';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteInvoice, issueInvoice } from '@bursar/ledger';
import { createRedis } from '@bursar/platform';
import {
  daysFromToday,
  freePort,
  killHard,
  pdfText,
  startWorkerProcess,
  testRedisUrl,
  waitUntil,
  type ServiceProcess,
} from '@bursar/test-support';
import { createTestApi } from '../services/api/src/testing/harness.js';

const api = await createTestApi();
const { db } = api;
const staff = await api.callerFor('accountant', api.demoSchoolId);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startWorker(): Promise<ServiceProcess> {
  const child = startWorkerProcess({
    DATABASE_URL: api.databaseUrl,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: api.queuePrefix,
    STORAGE_DIR: api.config.STORAGE_DIR,
    PAY_LINK_SECRET: api.config.PAY_LINK_SECRET,
    WORKER_PORT: String(await freePort()),
    WORKER_QUEUES: 'invoice-pdf',
  });
  cleanups.push(() => killHard(child));
  return child;
}

/**
 * `count` invoices for students of a new class of the demo school, written
 * with the render triggers off (`session_replication_role = replica`), so only
 * the batch renders them and the test sees its work, not the triggers'.
 */
async function classWithInvoices(count: number): Promise<{ classId: string; invoiceIds: string[] }> {
  const schoolId = api.demoSchoolId;
  const classId = await api.rows.class(schoolId);
  const invoiceIds: string[] = [];
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    for (let index = 0; index < count; index++) {
      const student = await trx
        .insertInto('students')
        .values({
          schoolId,
          classId,
          firstName: index % 3 === 0 ? 'आशा' : 'Zoë',
          lastName: `Łukasz-${index}`,
          admissionNo: `B-${randomBytes(5).toString('hex')}`,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      invoiceIds.push(
        await issueInvoice(trx, {
          schoolId,
          studentId: student.id,
          issueDate: daysFromToday(0),
          dueDate: daysFromToday(30),
          lines: [
            { description: 'Tuition, term 2', quantity: 1, unitAmountMinor: BigInt(100_000 + index) },
            { description: 'Transport', quantity: 2, unitAmountMinor: 15_000n },
          ],
        }),
      );
    }
  });
  return { classId, invoiceIds };
}

async function batchOf(batchId: string) {
  const response = await api.request(staff, 'GET', `/api/pdf-batches/${batchId}`);
  expect(response.status).toBe(200);
  return response.body as { status: string; total: number; done: number; failed: number; errors: unknown[] };
}

/** The zip as `{name, bytes}` entries, read with a zip library from the downloaded bytes. */
async function download(batchId: string): Promise<{ name: string; bytes: Buffer }[]> {
  const response = await fetch(`${api.url}/api/pdf-batches/${batchId}/download`, {
    headers: { authorization: `Bearer ${staff.token}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/zip');
  const zip = Buffer.from(await response.arrayBuffer());
  const file = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(zip, { lazyEntries: true }, (error, opened) =>
      error ? reject(error) : resolve(opened),
    ),
  );
  const entries: { name: string; bytes: Buffer }[] = [];
  await new Promise<void>((resolve, reject) => {
    file.on('error', reject);
    file.on('end', resolve);
    file.on('entry', (entry: yauzl.Entry) => {
      file.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          entries.push({ name: entry.fileName, bytes: Buffer.concat(chunks) });
          file.readEntry();
        });
      });
    });
    file.readEntry();
  });
  return entries;
}

async function invoiceNumbers(invoiceIds: string[]): Promise<string[]> {
  const rows = await db.selectFrom('invoices').select('number').where('id', 'in', invoiceIds).execute();
  return rows.map((row) => row.number).sort();
}

/** Every invoice has exactly one stored version: none was rendered twice. */
async function expectOneVersionEach(invoiceIds: string[]) {
  const rows = await db
    .selectFrom('documents')
    .select(['subjectId', sql<string>`count(*)`.as('versions')])
    .where('kind', '=', 'invoice')
    .where('subjectId', 'in', invoiceIds)
    .groupBy('subjectId')
    .execute();
  expect(rows).toHaveLength(invoiceIds.length);
  expect(rows.filter((row) => Number(row.versions) !== 1)).toEqual([]);
}

describe('bulk invoice PDFs', () => {
  it('renders a 500-invoice class batch with exact progress, and zips 500 readable PDFs', async () => {
    const { classId, invoiceIds } = await classWithInvoices(500);
    await startWorker();
    const created = await api.request(staff, 'POST', '/api/invoices/pdf', { body: { classId } });
    expect(created.status).toBe(202);
    expect(created.body.total).toBe(500);
    const { batchId } = created.body as { batchId: string };

    // Not downloadable until it completes.
    const early = await api.request(staff, 'GET', `/api/pdf-batches/${batchId}/download`);
    if ((await batchOf(batchId)).status === 'running') expect(early.status).toBe(409);

    const seen: number[] = [];
    await waitUntil(
      'the batch to complete',
      async () => {
        const batch = await batchOf(batchId);
        seen.push(batch.done);
        return batch.status === 'completed';
      },
      150_000,
    );
    expect(await batchOf(batchId)).toMatchObject({
      status: 'completed',
      total: 500,
      done: 500,
      failed: 0,
      errors: [],
    });
    // Progress only ever moves forward.
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    const entries = await download(batchId);
    expect(entries).toHaveLength(500);
    const numbers = await invoiceNumbers(invoiceIds);
    expect(entries.map((entry) => entry.name.replace(/\.pdf$/, '')).sort()).toEqual(numbers);
    for (const entry of entries) {
      expect(entry.bytes.subarray(0, 5).toString()).toBe('%PDF-');
      expect(pdfText(entry.bytes)).toContain(entry.name.replace(/\.pdf$/, ''));
    }
    await expectOneVersionEach(invoiceIds);

    // The tracker job carries the batch's progress, as the job dashboard shows it.
    const redis = createRedis(testRedisUrl(), 'producer');
    const queue = new Queue('invoice-pdf', { connection: redis, prefix: api.queuePrefix });
    cleanups.push(async () => {
      await queue.close();
      await redis.quit();
    });
    await waitUntil('the tracker to finish', async () => {
      const tracker = await queue.getJob(`pdf-batch.track.${batchId}`);
      return (await tracker?.getState()) === 'completed';
    });
    const tracker = (await queue.getJob(`pdf-batch.track.${batchId}`))!;
    expect(tracker.progress).toEqual({ total: 500, done: 500, failed: 0, percent: 100 });
  }, 240_000);

  it('finishes a batch whose worker was killed part way, each invoice rendered and zipped once', async () => {
    const { classId, invoiceIds } = await classWithInvoices(500);
    const first = await startWorker();
    const created = await api.request(staff, 'POST', '/api/invoices/pdf', { body: { classId } });
    expect(created.status).toBe(202);
    const { batchId } = created.body as { batchId: string };
    await waitUntil('some of the batch to be done', async () => (await batchOf(batchId)).done >= 60, 120_000);
    await killHard(first);
    const midway = await batchOf(batchId);
    expect(midway.status).toBe('running');
    expect(midway.done).toBeLessThan(500);

    await startWorker();
    // Jobs the killed worker held come back once their locks expire (BullMQ's stalled-job check).
    await waitUntil(
      'the batch to complete',
      async () => (await batchOf(batchId)).status === 'completed',
      180_000,
    );
    expect(await batchOf(batchId)).toMatchObject({ total: 500, done: 500, failed: 0 });
    const entries = await download(batchId);
    expect(entries).toHaveLength(500);
    expect(new Set(entries.map((entry) => entry.name)).size).toBe(500);
    expect(entries.map((entry) => entry.name.replace(/\.pdf$/, '')).sort()).toEqual(
      await invoiceNumbers(invoiceIds),
    );
    await expectOneVersionEach(invoiceIds);
  }, 300_000);

  it('keeps batches to their school, checks what it is given, and reports a failed invoice', async () => {
    const otherSchool = await api.createSchool();
    const outsider = await api.callerFor('accountant', otherSchool);
    const { classId, invoiceIds } = await classWithInvoices(3);
    const created = await api.request(staff, 'POST', '/api/invoices/pdf', { body: { invoiceIds } });
    expect(created.status).toBe(202);
    const { batchId } = created.body as { batchId: string };
    // An invoice deleted after the batch was made (the latest of its series may be) fails, with its reason.
    const [gone] = await invoiceNumbers([invoiceIds[2]!]);
    await db.transaction().execute((trx) => deleteInvoice(trx, api.demoSchoolId, invoiceIds[2]!));
    await startWorker();

    for (const path of [`/api/pdf-batches/${batchId}`, `/api/pdf-batches/${batchId}/download`]) {
      expect((await api.request(outsider, 'GET', path)).status).toBe(404);
    }
    const listed = await api.request(outsider, 'GET', '/api/pdf-batches');
    expect(listed.body.data).toEqual([]);
    // Another school's class, invoices and fee plan are not found.
    expect((await api.request(outsider, 'POST', '/api/invoices/pdf', { body: { classId } })).status).toBe(
      404,
    );
    expect((await api.request(outsider, 'POST', '/api/invoices/pdf', { body: { invoiceIds } })).status).toBe(
      404,
    );
    // Bad selections are 422: two selectors, duplicates, an empty class, a staff member naming a school.
    const emptyClass = await api.rows.class(api.demoSchoolId);
    for (const body of [
      { classId, invoiceIds },
      { invoiceIds: [invoiceIds[0], invoiceIds[0]] },
      { invoiceIds: [] },
      { classId: emptyClass },
      { classId, schoolId: api.demoSchoolId },
      {},
    ]) {
      const response = await api.request(staff, 'POST', '/api/invoices/pdf', { body });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
    const teacher = await api.callerFor('teacher', api.demoSchoolId);
    expect((await api.request(teacher, 'POST', '/api/invoices/pdf', { body: { classId } })).status).toBe(403);

    await waitUntil(
      'the batch to complete',
      async () => (await batchOf(batchId)).status === 'completed',
      60_000,
    );
    expect(await batchOf(batchId)).toMatchObject({
      total: 3,
      done: 2,
      failed: 1,
      errors: [{ invoiceId: invoiceIds[2], invoiceNumber: gone, error: `invoice ${gone} no longer exists` }],
    });
    const entries = await download(batchId);
    expect(entries.map((entry) => entry.name).sort()).toEqual(
      [
        ...(await invoiceNumbers([invoiceIds[0]!, invoiceIds[1]!])).map((number) => `${number}.pdf`),
        'failed.csv',
      ].sort(),
    );
    const failedCsv = entries.find((entry) => entry.name === 'failed.csv')!.bytes.toString();
    expect(failedCsv).toBe(`invoice,error\r\n${gone},invoice ${gone} no longer exists\r\n`);
  }, 120_000);
});
