import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

/** An invoice of a batch, in invoice-number order. */
export interface BatchInvoice {
  id: string;
  number: string;
  schoolId: string;
}

/** Named invoices within the caller's scope (missing or another school's ones are simply absent). */
export function findInvoicesById(db: Db, scope: string | null, ids: string[]): Promise<BatchInvoice[]> {
  return db
    .selectFrom('invoices')
    .select(['id', 'number', 'schoolId'])
    .where('id', 'in', ids)
    .$if(scope !== null, (query) => query.where('schoolId', '=', scope!))
    .orderBy('number')
    .execute();
}

/** Every non-void invoice of the students now in a class. */
export function findClassInvoices(db: Db, schoolId: string, classId: string): Promise<BatchInvoice[]> {
  return db
    .selectFrom('invoices')
    .innerJoin('students', 'students.id', 'invoices.studentId')
    .select(['invoices.id', 'invoices.number', 'invoices.schoolId'])
    .where('students.classId', '=', classId)
    .where('invoices.schoolId', '=', schoolId)
    .where('invoices.voidedAt', 'is', null)
    .orderBy('invoices.number')
    .execute();
}

/** Every non-void invoice a fee plan issued. */
export function findFeePlanInvoices(db: Db, schoolId: string, feePlanId: string): Promise<BatchInvoice[]> {
  return db
    .selectFrom('invoices')
    .select(['id', 'number', 'schoolId'])
    .where('feePlanId', '=', feePlanId)
    .where('schoolId', '=', schoolId)
    .where('voidedAt', 'is', null)
    .orderBy('number')
    .execute();
}

/** Stores a batch and its items (positions in the order given). */
export async function insertBatch(
  trx: Transaction<DB>,
  input: { schoolId: string; requestedBy: string; selector: unknown; invoices: BatchInvoice[] },
): Promise<string> {
  const batch = await trx
    .insertInto('pdfBatches')
    .values({
      schoolId: input.schoolId,
      requestedBy: input.requestedBy,
      selector: JSON.stringify(input.selector),
      total: input.invoices.length,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // One statement for any size: the ids and numbers travel as two arrays.
  await sql`
    insert into pdf_batch_items (batch_id, position, invoice_id, invoice_number)
    select ${batch.id}, item.ordinality, item.invoice_id, item.invoice_number
    from unnest(${input.invoices.map((invoice) => invoice.id)}::uuid[],
                ${input.invoices.map((invoice) => invoice.number)}::text[])
      with ordinality as item (invoice_id, invoice_number, ordinality)
  `.execute(trx);
  return batch.id;
}

const batchColumns = [
  'id',
  'schoolId',
  'status',
  'total',
  'done',
  'failed',
  'createdAt',
  'finishedAt',
] as const;

export function findBatch(db: Db, scope: string | null, id: string) {
  return db
    .selectFrom('pdfBatches')
    .select(batchColumns)
    .where('id', '=', id)
    .$if(scope !== null, (query) => query.where('schoolId', '=', scope!))
    .executeTakeFirst();
}

export async function listBatches(db: Db, scope: string | null, page: { limit: number; offset: number }) {
  const base = db
    .selectFrom('pdfBatches')
    .$if(scope !== null, (query) => query.where('schoolId', '=', scope!));
  const [rows, count] = await Promise.all([
    base
      .select(batchColumns)
      .orderBy('createdAt', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.total) };
}

/** The failed items of batches, at most `limit` each, by batch. */
export async function findBatchErrors(db: Db, batchIds: string[], limit = 100) {
  const byBatch = new Map<string, { invoiceId: string; invoiceNumber: string; error: string }[]>();
  if (!batchIds.length) return byBatch;
  const rows = await db
    .selectFrom('pdfBatchItems')
    .select(['batchId', 'invoiceId', 'invoiceNumber', 'error'])
    .where('batchId', 'in', batchIds)
    .where('status', '=', 'failed')
    .orderBy('batchId')
    .orderBy('position')
    .execute();
  for (const row of rows) {
    const list = byBatch.get(row.batchId) ?? [];
    if (list.length < limit) list.push({ ...row, error: row.error ?? 'failed' });
    byBatch.set(row.batchId, list);
  }
  return byBatch;
}

/** A page of a batch's items with the stored file of each done one, in order (for the zip). */
export function batchItemsPage(db: Db, batchId: string, afterPosition: number, limit: number) {
  return db
    .selectFrom('pdfBatchItems')
    .leftJoin('documents', 'documents.id', 'pdfBatchItems.documentId')
    .select([
      'pdfBatchItems.position',
      'pdfBatchItems.invoiceNumber',
      'pdfBatchItems.status',
      'pdfBatchItems.error',
      'documents.storageKey',
    ])
    .where('pdfBatchItems.batchId', '=', batchId)
    .where('pdfBatchItems.position', '>', afterPosition)
    .orderBy('pdfBatchItems.position')
    .limit(limit)
    .execute();
}

/** Records (or clears) a school's logo upload time. */
export async function setLogoUpdatedAt(db: Db, schoolId: string, at: Date | null): Promise<void> {
  await db.updateTable('schools').set({ logoUpdatedAt: at }).where('id', '=', schoolId).execute();
}

/** The payment's school (within scope), for a receipt. */
export function findPaymentSchool(db: Db, scope: string | null, paymentId: string) {
  return db
    .selectFrom('payments')
    .select(['id', 'schoolId'])
    .where('id', '=', paymentId)
    .$if(scope !== null, (query) => query.where('schoolId', '=', scope!))
    .executeTakeFirst();
}
