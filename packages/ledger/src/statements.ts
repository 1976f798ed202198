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
interface StatementPaymentJson {
  id: string;
  invoiceId: string;
  amountMinor: string;
  refundedMinor: string;
  method: string;
  reference: string | null;
  paidAt: string;
  refunds: {
    id: string;
    paymentId: string;
    amountMinor: string;
    fromCreditMinor: string;
    reason: string;
    createdAt: string;
  }[];
}

/**
 * A student's statement: whole-account totals (the student's running totals),
 * and the invoices issued in [from, to] with their payments and refunds, in
 * two queries. `asOf` is the day statuses are judged against (default: today
 * in the school's time zone). Money inside the nested JSON travels as text and
 * is parsed to bigint here, never through a float.
 */
export async function studentStatement(
  db: Db,
  input: { schoolId: string | null; studentId: string; from?: string; to?: string; asOf?: string },
) {
  let studentQuery = db
    .selectFrom('students')
    .innerJoin('schools', 'schools.id', 'students.schoolId')
    .select([
      'students.id',
      'students.schoolId',
      'students.firstName',
      'students.lastName',
      'students.admissionNo',
      'students.classId',
      'students.status',
      'students.invoicedMinor',
      'students.paidMinor',
      'students.refundedMinor',
      'students.balanceMinor',
      'students.creditMinor',
      'schools.currency',
      'schools.timezone',
    ])
    .where('students.id', '=', input.studentId)
    .where('schools.deletedAt', 'is', null);
  if (input.schoolId) studentQuery = studentQuery.where('students.schoolId', '=', input.schoolId);
  const student = await studentQuery.executeTakeFirst();
  if (!student) return undefined;

  const refundsJson = sql`case when p.refunded_minor > 0 then (
      select json_agg(json_build_object(
        'id', r.id, 'paymentId', r.payment_id, 'amountMinor', r.amount_minor::text,
        'fromCreditMinor', r.from_credit_minor::text, 'reason', r.reason, 'createdAt', r.created_at
      ) order by r.created_at, r.id) from refunds r where r.payment_id = p.id)
    else '[]'::json end`;
  const paymentsJson = sql<StatementPaymentJson[]>`coalesce((
      select json_agg(json_build_object(
        'id', p.id, 'invoiceId', p.invoice_id, 'amountMinor', p.amount_minor::text,
        'refundedMinor', p.refunded_minor::text, 'method', p.method, 'reference', p.reference,
        'paidAt', p.paid_at, 'refunds', ${refundsJson}
      ) order by p.paid_at, p.id) from payments p where p.invoice_id = invoices.id), '[]'::json)`;
  let invoiceQuery = db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.schoolId')
    .select([
      'invoices.id',
      'invoices.number',
      'invoices.issueDate',
      'invoices.dueDate',
      'invoices.totalMinor',
      'invoices.paidMinor',
      'invoices.refundedMinor',
      'invoices.voidedAt',
      balanceSql.as('balanceMinor'),
      invoiceStatusSql(input.asOf).as('status'),
      paymentsJson.as('payments'),
    ])
    .where('invoices.studentId', '=', student.id)
    .orderBy('invoices.dueDate')
    .orderBy('invoices.number');
  if (input.from) invoiceQuery = invoiceQuery.where('invoices.issueDate', '>=', input.from);
  if (input.to) invoiceQuery = invoiceQuery.where('invoices.issueDate', '<=', input.to);
  const invoices = await invoiceQuery.execute();

  const {
    invoicedMinor,
    paidMinor,
    refundedMinor,
    balanceMinor,
    creditMinor,
    currency,
    timezone,
    ...identity
  } = student;
  return {
    student: identity,
    school: { currency, timezone },
    totals: { invoicedMinor, paidMinor, refundedMinor, balanceMinor, creditMinor } satisfies Totals,
    invoices: invoices.map((invoice) => ({
      ...invoice,
      payments: invoice.payments.map((payment) => ({
        ...payment,
        amountMinor: BigInt(payment.amountMinor),
        refundedMinor: BigInt(payment.refundedMinor),
        paidAt: new Date(payment.paidAt),
        refunds: payment.refunds.map((refund) => ({
          ...refund,
          amountMinor: BigInt(refund.amountMinor),
          fromCreditMinor: BigInt(refund.fromCreditMinor),
          createdAt: new Date(refund.createdAt),
        })),
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
/**
 * A school's summary as of a day: totals (sums of the students' running
 * totals), how many students, and open balances by days overdue.
 */
export async function schoolSummary(db: Db, input: { schoolId: string; asOf: string }) {
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
  const { active, all, ...totals } = summary;
  return {
    studentsCount: active,
    studentsTotal: all,
    totals: totals satisfies Totals,
    aging: aging satisfies Record<AgingBucket, bigint>,
  };
}

/** A page of a school's students with their running totals, in the requested order. */
export async function schoolStudentBalances(
  db: Db,
  input: { schoolId: string; limit: number; offset: number; sort: StudentSort },
) {
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
  return rows.limit(input.limit).offset(input.offset).execute();
}

/** Summary and one page of students together (what `GET /api/schools/:id/statement` shows). */
export async function schoolStatement(
  db: Db,
  input: { schoolId: string; asOf: string; limit: number; offset: number; sort: StudentSort },
) {
  const [summary, students] = await Promise.all([schoolSummary(db, input), schoolStudentBalances(db, input)]);
  return {
    schoolId: input.schoolId,
    asOf: input.asOf,
    studentsCount: summary.studentsCount,
    totals: summary.totals,
    aging: summary.aging,
    students,
    total: summary.studentsTotal,
  };
}
