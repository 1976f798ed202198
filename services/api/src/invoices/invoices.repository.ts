import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type { ListInvoicesQuery } from '@bursar/contracts';
import { invoiceStatusSql, loadInvoiceLines, selectInvoices, type getInvoice } from '@bursar/ledger';

type Db = Kysely<DB> | Transaction<DB>;

/** An invoice as the ledger's `getInvoice` reads it: the row, its derived balance and status, its lines. */
export type InvoiceRow = NonNullable<Awaited<ReturnType<typeof getInvoice>>>;

/** The school (and its time zone) of a student of a live school within `scope` (null: any school). */
export function findStudentSchool(db: Db, scope: string | null, studentId: string) {
  let query = db
    .selectFrom('students')
    .innerJoin('schools', 'schools.id', 'students.schoolId')
    .select(['students.schoolId', 'schools.timezone'])
    .where('students.id', '=', studentId)
    .where('schools.deletedAt', 'is', null);
  if (scope) query = query.where('students.schoolId', '=', scope);
  return query.executeTakeFirst();
}

const SORTS = {
  dueDate: ['invoices.dueDate', 'asc'],
  '-dueDate': ['invoices.dueDate', 'desc'],
  number: ['invoices.number', 'asc'],
  '-number': ['invoices.number', 'desc'],
  createdAt: ['invoices.createdAt', 'asc'],
  '-createdAt': ['invoices.createdAt', 'desc'],
} as const;

/**
 * One page of invoices of live schools, each as `getInvoice` reads it, in three
 * queries whatever the page size: the rows, all their lines, the count.
 */
export async function listInvoices(
  db: Db,
  scope: string | null,
  query: ListInvoicesQuery,
): Promise<{ rows: InvoiceRow[]; total: number }> {
  // One "today" for the filter and the statuses shown, so a row never contradicts the filter.
  const status = invoiceStatusSql();
  let base = selectInvoices(db, status).where('schools.deletedAt', 'is', null);
  if (scope) base = base.where('invoices.schoolId', '=', scope);
  if (query.studentId) base = base.where('invoices.studentId', '=', query.studentId);
  if (query.dueFrom) base = base.where('invoices.dueDate', '>=', query.dueFrom);
  if (query.dueTo) base = base.where('invoices.dueDate', '<=', query.dueTo);
  if (query.status) base = base.where(status, '=', query.status);
  const [column, direction] = SORTS[query.sort];
  const [invoices, count] = await Promise.all([
    base.orderBy(column, direction).orderBy('invoices.id').limit(query.limit).offset(query.offset).execute(),
    base
      .clearSelect()
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  const lines = await loadInvoiceLines(
    db,
    invoices.map((invoice) => invoice.id),
  );
  return {
    rows: invoices.map((invoice) => ({ ...invoice, lines: lines.get(invoice.id) ?? [] })),
    total: count.n,
  };
}
