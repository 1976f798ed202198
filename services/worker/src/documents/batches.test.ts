import type { Job } from 'bullmq';
import { sql, type Transaction } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { DB } from '@bursar/db';
import { latestDocument, publishInvoiceDocument } from '@bursar/documents';
import { issueInvoice } from '@bursar/ledger';
import { createLogger } from '@bursar/platform';
import { daysFromToday, dbBuilders, freshDatabase } from '@bursar/test-support';
import { processPdfBatchChunk } from './documents.processor.js';
import { testDocuments } from './documents.testing.js';

const { db } = await freshDatabase();
const builders = dbBuilders(db);
const logger = createLogger('batches-test', 'silent');

/** `count` issued invoices of one school (the render triggers off, so nothing renders them but the test). */
async function invoicesOf(count: number): Promise<string[]> {
  const schoolId = await builders.school();
  const invoiceIds: string[] = [];
  for (let index = 0; index < count; index++) {
    const studentId = await builders.student(schoolId);
    invoiceIds.push(
      await db.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        return issueInvoice(trx, {
          schoolId,
          studentId,
          issueDate: daysFromToday(0),
          dueDate: daysFromToday(14),
          lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: 10_000n + BigInt(index) }],
        });
      }),
    );
  }
  return invoiceIds;
}

/** A batch of `count` invoices of one school, its items pending, in batch order. */
async function batchOf(count: number) {
  const invoiceIds = await invoicesOf(count);
  const { schoolId } = await db
    .selectFrom('invoices')
    .select('schoolId')
    .where('id', '=', invoiceIds[0]!)
    .executeTakeFirstOrThrow();
  const { rows } = await sql<{ id: string }>`
    insert into pdf_batches (school_id, selector, total) values (${schoolId}, '{}', ${count}) returning id
  `.execute(db);
  const batchId = rows[0]!.id;
  await sql`
    insert into pdf_batch_items (batch_id, position, invoice_id, invoice_number)
    select ${batchId}, item.n, item.id, invoices.number
    from unnest(${invoiceIds}::uuid[]) with ordinality as item (id, n) join invoices on invoices.id = item.id
  `.execute(db);
  return { batchId, invoiceIds };
}

const itemsOf = (batchId: string) =>
  db
    .selectFrom('pdfBatchItems')
    .select(['invoiceId', 'status', 'error'])
    .where('batchId', '=', batchId)
    .orderBy('position')
    .execute();

/** The attempt a job is on, as BullMQ gives it to the processor. */
const attempt = (made: number) => ({ attemptsMade: made, opts: { attempts: 8 } }) as unknown as Job;

/** Document deps whose storage refuses the files of one invoice (the disk is full), and stores the rest. */
function documentsFailingFor(broken: string) {
  const documents = testDocuments(db, logger);
  const storage = {
    ...documents.storage,
    put: async (key: string, body: Buffer, options: { contentType: string }) => {
      if (key.includes(broken)) throw new Error('the disk is full');
      return documents.storage.put(key, body, options);
    },
  };
  return { ...documents, storage };
}

describe('a bulk render chunk', () => {
  it('retries whole while one invoice cannot be stored, then on its last attempt fails that one alone', async () => {
    const { batchId, invoiceIds } = await batchOf(3);
    const broken = invoiceIds[1]!;
    const deps = { db, documents: documentsFailingFor(broken), outbox: { kick: async () => {} } };

    // An attempt with retries left: the chunk's transaction rolls back whole, nothing is counted.
    await expect(processPdfBatchChunk({ batchId, invoiceIds }, { ...deps, job: attempt(0) })).rejects.toThrow(
      'the disk is full',
    );
    expect((await itemsOf(batchId)).map((item) => item.status)).toEqual(['pending', 'pending', 'pending']);
    expect(await latestDocument(db, 'invoice', invoiceIds[0]!)).toBeUndefined();

    // The last attempt: invoice by invoice, the bad one failed with its reason, the batch complete.
    expect(await processPdfBatchChunk({ batchId, invoiceIds }, { ...deps, job: attempt(7) })).toEqual({
      done: 2,
      failed: 1,
    });
    expect(await itemsOf(batchId)).toEqual([
      { invoiceId: invoiceIds[0], status: 'done', error: null },
      { invoiceId: broken, status: 'failed', error: 'the disk is full' },
      { invoiceId: invoiceIds[2], status: 'done', error: null },
    ]);
    const batch = await db
      .selectFrom('pdfBatches')
      .select(['status', 'done', 'failed'])
      .where('id', '=', batchId)
      .executeTakeFirstOrThrow();
    expect(batch).toEqual({ status: 'completed', done: 2, failed: 1 });
    // Run again (a redelivery): nothing is pending, nothing moves.
    expect(await processPdfBatchChunk({ batchId, invoiceIds }, { ...deps, job: attempt(7) })).toEqual({
      done: 0,
      failed: 0,
    });
  });
});

describe('single invoice renders asked for at once', () => {
  it('go through one transaction together, and those asked for meanwhile through the next', async () => {
    const invoiceIds = await invoicesOf(6);
    const documents = testDocuments(db, logger);
    const transactions = new Map<string, Transaction<DB>>();
    const publish = (invoiceId: string) =>
      publishInvoiceDocument(documents, invoiceId, async (trx) => {
        transactions.set(invoiceId, trx);
      });

    const first = publish(invoiceIds[0]!);
    const sameTurn = publish(invoiceIds[1]!);
    // Asked for while the first two are being published: they wait, then go together.
    await new Promise((resolve) => setImmediate(resolve));
    const meanwhile = invoiceIds.slice(2).map(publish);
    const results = await Promise.all([first, sameTurn, ...meanwhile]);

    expect(
      results.map((result) => [result?.document.subjectId, result?.document.version, result?.rendered]),
    ).toEqual(invoiceIds.map((id) => [id, 1, true]));
    const [a, b, ...rest] = invoiceIds.map((id) => transactions.get(id));
    expect(a).toBe(b);
    for (const trx of rest) expect(trx).toBe(rest[0]);
    expect(rest[0]).not.toBe(a);
  });

  it('fail alone: one invoice that cannot be stored, or that does not exist, leaves the others rendered', async () => {
    const invoiceIds = await invoicesOf(4);
    const broken = invoiceIds[2]!;
    const deps = documentsFailingFor(broken);
    const missing = '00000000-0000-4000-8000-000000000000';
    const outcomes = await Promise.allSettled(
      [...invoiceIds, missing].map((id) => publishInvoiceDocument(deps, id)),
    );

    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ message: 'the disk is full' });
    expect((outcomes[4] as PromiseFulfilledResult<unknown>).value).toBeUndefined();
    for (const id of invoiceIds) {
      expect((await latestDocument(db, 'invoice', id))?.version).toBe(id === broken ? undefined : 1);
    }
  });

  it('a within that fails fails only its own call, and the line takes calls again afterwards', async () => {
    const invoiceIds = await invoicesOf(3);
    const documents = testDocuments(db, logger);
    const refused = invoiceIds[1]!;
    const outcomes = await Promise.allSettled(
      invoiceIds.map((id) =>
        publishInvoiceDocument(documents, id, async () => {
          if (id === refused) throw new Error('the message could not be asked for');
        }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await latestDocument(db, 'invoice', refused)).toBeUndefined();

    // The line is free again: a later call goes (and renders what the refused one did not).
    const later = await publishInvoiceDocument(documents, refused);
    expect(later?.document.version).toBe(1);
  });
});
