import { sql, type RawBuilder } from 'kysely';
import type { Db } from './db.js';
import { balanceSql, invoiceStatusSql } from './status.js';

/** Account totals, all computed in SQL. `balanceMinor` is owed; `creditMinor` is held for the family. */
export interface Totals {
  invoicedMinor: bigint;
  paidMinor: bigint;
  refundedMinor: bigint;
  balanceMinor: bigint;
  creditMinor: bigint;
}

function invoiceTotals(db: Db, column: 'studentId' | 'schoolId', id: string) {
  return db
    .selectFrom('invoices')
    .select([
      sql<bigint>`coalesce(sum(total_minor) filter (where voided_at is null), 0)::bigint`.as('invoicedMinor'),
      sql<bigint>`coalesce(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null), 0)::bigint`.as(
        'balanceMinor',
      ),
    ])
    .where(column, '=', id)
    .executeTakeFirstOrThrow();
}

function paymentTotals(db: Db, column: 'studentId' | 'schoolId', id: string) {
  return db
    .selectFrom('payments')
    .select([
      sql<bigint>`coalesce(sum(amount_minor), 0)::bigint`.as('paidMinor'),
      sql<bigint>`coalesce(sum(refunded_minor), 0)::bigint`.as('refundedMinor'),
    ])
    .where(column, '=', id)
    .executeTakeFirstOrThrow();
}

/**
 * A student's statement: whole-account totals, and the invoices issued in
 * [from, to] with their payments and refunds. `asOf` is the day statuses are
 * judged against (default: today in the school's time zone).
 */
export async function studentStatement(
  db: Db,
  input: { schoolId: string | null; studentId: string; from?: string; to?: string; asOf?: string },
) {
  let studentQuery = db
    .selectFrom('students')
    .select(['id', 'schoolId', 'firstName', 'lastName', 'admissionNo', 'classId', 'status', 'creditMinor'])
    .where('id', '=', input.studentId);
  if (input.schoolId) studentQuery = studentQuery.where('schoolId', '=', input.schoolId);
  const student = await studentQuery.executeTakeFirst();
  if (!student) return undefined;

  const [invoiced, paid] = await Promise.all([
    invoiceTotals(db, 'studentId', student.id),
    paymentTotals(db, 'studentId', student.id),
  ]);
  let invoiceQuery = db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.schoolId')
    .select([
      'invoices.id',
      'invoices.number',
      'invoices.currency',
      'invoices.issueDate',
      'invoices.dueDate',
      'invoices.totalMinor',
      'invoices.paidMinor',
      'invoices.refundedMinor',
      'invoices.voidedAt',
      balanceSql.as('balanceMinor'),
      invoiceStatusSql(input.asOf).as('status'),
    ])
    .where('invoices.studentId', '=', student.id)
    .orderBy('invoices.dueDate')
    .orderBy('invoices.number');
  if (input.from) invoiceQuery = invoiceQuery.where('invoices.issueDate', '>=', input.from);
  if (input.to) invoiceQuery = invoiceQuery.where('invoices.issueDate', '<=', input.to);
  const invoices = await invoiceQuery.execute();
  const ids = invoices.map((invoice) => invoice.id);
  const payments = ids.length
    ? await db
        .selectFrom('payments')
        .select(['id', 'invoiceId', 'amountMinor', 'refundedMinor', 'method', 'reference', 'paidAt'])
        .where('invoiceId', 'in', ids)
        .orderBy('paidAt')
        .execute()
    : [];
  const refunds = payments.length
    ? await db
        .selectFrom('refunds')
        .select(['id', 'paymentId', 'amountMinor', 'fromCreditMinor', 'reason', 'createdAt'])
        .where(
          'paymentId',
          'in',
          payments.map((payment) => payment.id),
        )
        .orderBy('createdAt')
        .execute()
    : [];
  return {
    student,
    totals: { ...invoiced, ...paid, creditMinor: student.creditMinor } satisfies Totals,
    invoices: invoices.map((invoice) => ({
      ...invoice,
      payments: payments
        .filter((payment) => payment.invoiceId === invoice.id)
        .map((payment) => ({ ...payment, refunds: refunds.filter((refund) => refund.paymentId === payment.id) })),
    })),
  };
}

/** Open balance of invoices whose days overdue (as of `asOf`) satisfy `range`. */
function agingBucket(asOf: string, range: RawBuilder<unknown>) {
  return sql<bigint>`coalesce(sum(invoices.total_minor - invoices.paid_minor + invoices.refunded_minor)
    filter (where (${asOf}::date - invoices.due_date) ${range}), 0)::bigint`;
}

export type AgingBucket = 'current' | 'days1To30' | 'days31To60' | 'days61To90' | 'days90Plus';
export type StudentSort = 'balance' | '-balance' | 'name' | 'admissionNo';

/**
 * A school's statement as of a day: totals, how many students, what is owed
 * by how long overdue, and a page of students with their balances.
 */
export async function schoolStatement(
  db: Db,
  input: { schoolId: string; asOf: string; limit: number; offset: number; sort: StudentSort },
) {
  const [invoiced, paid, credit, count, aging] = await Promise.all([
    invoiceTotals(db, 'schoolId', input.schoolId),
    paymentTotals(db, 'schoolId', input.schoolId),
    db
      .selectFrom('students')
      .select(sql<bigint>`coalesce(sum(credit_minor), 0)::bigint`.as('creditMinor'))
      .where('schoolId', '=', input.schoolId)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('students')
      .select([
        sql<number>`count(*) filter (where status = 'active')::int`.as('active'),
        sql<number>`count(*)::int`.as('all'),
      ])
      .where('schoolId', '=', input.schoolId)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('invoices')
      .select([
        agingBucket(input.asOf, sql`<= 0`).as('current'),
        agingBucket(input.asOf, sql`between 1 and 30`).as('days1To30'),
        agingBucket(input.asOf, sql`between 31 and 60`).as('days31To60'),
        agingBucket(input.asOf, sql`between 61 and 90`).as('days61To90'),
        agingBucket(input.asOf, sql`> 90`).as('days90Plus'),
      ])
      .where('schoolId', '=', input.schoolId)
      .where('voidedAt', 'is', null)
      .where(sql<boolean>`total_minor - paid_minor + refunded_minor > 0`)
      .executeTakeFirstOrThrow(),
  ]);

  const perInvoice = db
    .selectFrom('invoices')
    .select([
      'studentId',
      sql<bigint>`(sum(total_minor) filter (where voided_at is null))::bigint`.as('invoicedMinor'),
      sql<bigint>`(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null))::bigint`.as('balanceMinor'),
    ])
    .where('schoolId', '=', input.schoolId)
    .groupBy('studentId');
  const perPayment = db
    .selectFrom('payments')
    .select([
      'studentId',
      sql<bigint>`sum(amount_minor)::bigint`.as('paidMinor'),
      sql<bigint>`sum(refunded_minor)::bigint`.as('refundedMinor'),
    ])
    .where('schoolId', '=', input.schoolId)
    .groupBy('studentId');
  let rows = db
    .selectFrom('students as s')
    .leftJoin(perInvoice.as('i'), 'i.studentId', 's.id')
    .leftJoin(perPayment.as('p'), 'p.studentId', 's.id')
    .select([
      's.id',
      's.firstName',
      's.lastName',
      's.admissionNo',
      's.classId',
      's.status',
      's.creditMinor',
      sql<bigint>`coalesce(i.invoiced_minor, 0)::bigint`.as('invoicedMinor'),
      sql<bigint>`coalesce(i.balance_minor, 0)::bigint`.as('balanceMinor'),
      sql<bigint>`coalesce(p.paid_minor, 0)::bigint`.as('paidMinor'),
      sql<bigint>`coalesce(p.refunded_minor, 0)::bigint`.as('refundedMinor'),
    ])
    .where('s.schoolId', '=', input.schoolId);
  if (input.sort === '-balance' || input.sort === 'balance') {
    rows = rows.orderBy(sql`coalesce(i.balance_minor, 0)`, input.sort === '-balance' ? 'desc' : 'asc');
  } else if (input.sort === 'admissionNo') {
    rows = rows.orderBy('s.admissionNo');
  }
  rows = rows.orderBy('s.lastName').orderBy('s.firstName').orderBy('s.id');
  const students = await rows.limit(input.limit).offset(input.offset).execute();

  return {
    schoolId: input.schoolId,
    asOf: input.asOf,
    studentsCount: count.active,
    totals: { ...invoiced, ...paid, creditMinor: credit.creditMinor } satisfies Totals,
    aging: aging satisfies Record<AgingBucket, bigint>,
    students,
    total: count.all,
  };
}
