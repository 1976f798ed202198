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
    .select([
      'id',
      'schoolId',
      'firstName',
      'lastName',
      'admissionNo',
      'classId',
      'status',
      'invoicedMinor',
      'paidMinor',
      'refundedMinor',
      'balanceMinor',
      'creditMinor',
    ])
    .where('id', '=', input.studentId);
  if (input.schoolId) studentQuery = studentQuery.where('schoolId', '=', input.schoolId);
  const student = await studentQuery.executeTakeFirst();
  if (!student) return undefined;

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
  const [invoices, payments, refunds] = await Promise.all([
    invoiceQuery.execute(),
    db
      .selectFrom('payments')
      .select(['id', 'invoiceId', 'amountMinor', 'refundedMinor', 'method', 'reference', 'paidAt'])
      .where('studentId', '=', student.id)
      .orderBy('paidAt')
      .orderBy('id')
      .execute(),
    db
      .selectFrom('refunds')
      .innerJoin('payments', 'payments.id', 'refunds.paymentId')
      .select([
        'refunds.id',
        'refunds.paymentId',
        'refunds.amountMinor',
        'refunds.fromCreditMinor',
        'refunds.reason',
        'refunds.createdAt',
      ])
      .where('payments.studentId', '=', student.id)
      .orderBy('refunds.createdAt')
      .execute(),
  ]);
  const { invoicedMinor, paidMinor, refundedMinor, balanceMinor, creditMinor, ...identity } = student;
  return {
    student: identity,
    totals: { invoicedMinor, paidMinor, refundedMinor, balanceMinor, creditMinor } satisfies Totals,
    invoices: invoices.map((invoice) => ({
      ...invoice,
      payments: payments
        .filter((payment) => payment.invoiceId === invoice.id)
        .map((payment) => ({
          ...payment,
          refunds: refunds.filter((refund) => refund.paymentId === payment.id),
        })),
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
  const [summary, aging] = await Promise.all([
    db
      .selectFrom('students')
      .select([
        sql<bigint>`coalesce(sum(invoiced_minor), 0)::bigint`.as('invoicedMinor'),
        sql<bigint>`coalesce(sum(paid_minor), 0)::bigint`.as('paidMinor'),
        sql<bigint>`coalesce(sum(refunded_minor), 0)::bigint`.as('refundedMinor'),
        sql<bigint>`coalesce(sum(balance_minor), 0)::bigint`.as('balanceMinor'),
        sql<bigint>`coalesce(sum(credit_minor), 0)::bigint`.as('creditMinor'),
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

  let rows = db
    .selectFrom('students')
    .select([
      'id',
      'firstName',
      'lastName',
      'admissionNo',
      'classId',
      'status',
      'invoicedMinor',
      'paidMinor',
      'refundedMinor',
      'balanceMinor',
      'creditMinor',
    ])
    .where('schoolId', '=', input.schoolId);
  if (input.sort === '-balance') rows = rows.orderBy('balanceMinor', 'desc');
  else if (input.sort === 'balance') rows = rows.orderBy('balanceMinor', 'asc');
  else if (input.sort === 'admissionNo') rows = rows.orderBy('admissionNo');
  rows = rows.orderBy('lastName').orderBy('firstName').orderBy('id');
  const students = await rows.limit(input.limit).offset(input.offset).execute();
  const { active, all, ...totals } = summary;

  return {
    schoolId: input.schoolId,
    asOf: input.asOf,
    studentsCount: active,
    totals: totals satisfies Totals,
    aging: aging satisfies Record<AgingBucket, bigint>,
    students,
    total: all,
  };
}
