import { sql, type RawBuilder } from 'kysely';
import { preparedQuery } from '@bursar/db';
import type { Db } from './db.js';
import { todayIn } from './dates.js';
import { openInvoicesAsOfCte } from './reports/aging.js';
import { reportCtes, startOfDay } from './reports/scope.js';
import { balanceSql, invoiceStatusOn, invoiceStatusSql } from './status.js';

/** Account totals, all computed in SQL. `balanceMinor` is owed; `creditMinor` is held for the family. */
export interface Totals {
  invoicedMinor: bigint;
  paidMinor: bigint;
  refundedMinor: bigint;
  balanceMinor: bigint;
  creditMinor: bigint;
}

/**
 * Whether a statement as of `asOf` is answered point-in-time: only for a day
 * before today in the school's zone. Today (or a later day) is answered from
 * the running totals, which are what the ledger holds right now; a day that
 * has ended can no longer change except by back-dated payments, and is
 * recomputed from the rows.
 */
export function isPastDay(asOf: string | undefined, timezone: string, now: Date = new Date()): boolean {
  return asOf !== undefined && asOf < todayIn(timezone, now);
}

/** The instant local day `asOf` ends in `timezone`: what "as of that day" means for money. */
function endOf(asOf: string, timezone: string): RawBuilder<Date> {
  return startOfDay(sql`${asOf}::date + 1`, timezone);
}

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

/** A statement's invoice row, today's or as of a past day. */
interface StatementInvoiceRow {
  id: string;
  number: string;
  issueDate: string;
  dueDate: string;
  totalMinor: bigint;
  paidMinor: bigint;
  refundedMinor: bigint;
  voidedAt: Date | null;
  balanceMinor: bigint;
  status: string;
  payments: StatementPaymentJson[];
}

/**
 * Each invoice's payments (with their refunds) as JSON, for a query with
 * `invoices` in scope, as they had happened before `end`: payments paid
 * before it and their refunds made before it (the payment's refunded amount
 * is then the sum of those, worked out by the caller).
 */
function paymentsJson(end: RawBuilder<Date>) {
  return sql<StatementPaymentJson[]>`coalesce((
      select json_agg(json_build_object(
        'id', p.id, 'invoiceId', p.invoice_id, 'amountMinor', p.amount_minor::text,
        'refundedMinor', p.refunded_minor::text, 'method', p.method, 'reference', p.reference,
        'paidAt', p.paid_at, 'refunds', coalesce((
          select json_agg(json_build_object(
            'id', r.id, 'paymentId', r.payment_id, 'amountMinor', r.amount_minor::text,
            'fromCreditMinor', r.from_credit_minor::text, 'reason', r.reason, 'createdAt', r.created_at
          ) order by r.created_at, r.id) from refunds r where r.payment_id = p.id and r.created_at < ${end}), '[]'::json)
      ) order by p.paid_at, p.id) from payments p where p.invoice_id = invoices.id and p.paid_at < ${end}), '[]'::json)`;
}

/**
 * `books`: a student's invoices issued by `asOf`, each as it stood at `end`
 * (the end of that day), in the shape of an `invoices` row so the status and
 * balance rules (`status.ts`) apply to it unchanged. `paid_minor` is the
 * money applied to it before `end` (payments and credit moves, less what a
 * void gave back), `refunded_minor` what refunds took back before `end`, and
 * `voided_at` is set only if it was void by then: the same running columns
 * payments.ts, credit.ts and invoices.ts keep, summed from the allocations
 * effective before `end` instead of all of them.
 */
function booksCte(studentId: string, asOf: string, end: RawBuilder<Date>): RawBuilder<unknown> {
  return sql`books as (
    select i.id, i.number, i.issue_date, i.due_date, i.total_minor,
           case when i.voided_at < ${end} then i.voided_at end as voided_at,
           coalesce(sum(a.amount_minor) filter (where a.kind in ('payment', 'credit', 'void')), 0)::bigint as paid_minor,
           (-coalesce(sum(a.amount_minor) filter (where a.kind = 'refund'), 0))::bigint as refunded_minor
      from invoices i left join allocations a on a.invoice_id = i.id and a.effective_at < ${end}
     where i.student_id = ${studentId} and i.issue_date <= ${asOf}
     group by i.id)`;
}

/**
 * A student's totals at the end of local day `asOf`: invoices on the books
 * then (issued by that day, not void by its end), payments paid and refunds
 * made before it, open balances then, and the credit held then (what was paid
 * less what was refunded and what was allocated to invoices before it).
 */
async function studentTotalsAsOf(db: Db, studentId: string, asOf: string, timezone: string): Promise<Totals> {
  const end = endOf(asOf, timezone);
  const { rows } = await sql<{
    invoicedMinor: bigint;
    balanceMinor: bigint;
    paidMinor: bigint;
    refundedMinor: bigint;
    allocatedMinor: bigint;
  }>`with ${booksCte(studentId, asOf, end)}
    select
      (select coalesce(sum(invoices.total_minor) filter (where invoices.voided_at is null), 0)::bigint
         from books invoices) as invoiced_minor,
      (select coalesce(sum(${balanceSql}) filter (where ${balanceSql} > 0), 0)::bigint
         from books invoices) as balance_minor,
      (select coalesce(sum(p.amount_minor), 0)::bigint
         from payments p where p.student_id = ${studentId} and p.paid_at < ${end}) as paid_minor,
      (select coalesce(sum(r.amount_minor), 0)::bigint
         from refunds r join payments p on p.id = r.payment_id
        where p.student_id = ${studentId} and r.created_at < ${end}) as refunded_minor,
      (select coalesce(sum(a.amount_minor), 0)::bigint
         from allocations a join payments p on p.id = a.payment_id
        where p.student_id = ${studentId} and a.effective_at < ${end}) as allocated_minor`.execute(db);
  const { allocatedMinor, ...totals } = rows[0]!;
  return { ...totals, creditMinor: totals.paidMinor - totals.refundedMinor - allocatedMinor };
}

/** A student's invoices issued in [from, to] as they stood at the end of local day `asOf`. */
async function studentInvoicesAsOf(
  db: Db,
  input: { studentId: string; from?: string; to?: string; asOf: string; timezone: string },
): Promise<StatementInvoiceRow[]> {
  const end = endOf(input.asOf, input.timezone);
  const from = input.from ? sql`and invoices.issue_date >= ${input.from}` : sql``;
  const to = input.to ? sql`and invoices.issue_date <= ${input.to}` : sql``;
  const { rows } = await sql<StatementInvoiceRow>`with ${booksCte(input.studentId, input.asOf, end)}
    select invoices.id, invoices.number, invoices.issue_date, invoices.due_date, invoices.total_minor,
           invoices.paid_minor, invoices.refunded_minor, invoices.voided_at,
           ${balanceSql} as balance_minor, ${invoiceStatusSql(input.asOf)} as status,
           ${paymentsJson(end)} as payments
      from books invoices
     where true ${from} ${to}
     order by invoices.due_date, invoices.number`.execute(db);
  // A payment's refunded amount then is what its refunds listed (those made by then) add up to.
  return rows.map((row) => ({
    ...row,
    payments: row.payments.map((payment) => ({
      ...payment,
      refundedMinor: String(payment.refunds.reduce((sum, refund) => sum + BigInt(refund.amountMinor), 0n)),
    })),
  }));
}

/** A student's statement row as the one query of {@link studentStatementRow} returns it. */
export interface StudentStatementRow {
  id: string;
  schoolId: string;
  firstName: string;
  lastName: string;
  admissionNo: string;
  classId: string | null;
  status: string;
  invoicedMinor: bigint;
  paidMinor: bigint;
  refundedMinor: bigint;
  balanceMinor: bigint;
  creditMinor: bigint;
  currency: string;
  timezone: string;
  statsVersion: bigint;
  /** Today in the school's zone, by the application's clock. */
  today: string;
  /**
   * Today's statement as the api answers it (the `StudentStatement` contract),
   * as JSON text built by PostgreSQL; null when `asOf` is a past day asked
   * point-in-time, whose amounts are worked out apart.
   */
  body: string | null;
}

/** What {@link studentStatement} answers when `reuse` handed back a kept statement (never without `reuse`). */
type Kept<K> = [K] extends [never] ? never : { kept: K };

type StatementRefund = Omit<
  StatementPaymentJson['refunds'][number],
  'amountMinor' | 'fromCreditMinor' | 'createdAt'
> & {
  amountMinor: bigint;
  fromCreditMinor: bigint;
  createdAt: Date;
};

/** A student's statement as the ledger answers it (see {@link studentStatement}). */
export interface LedgerStudentStatement {
  student: Pick<
    StudentStatementRow,
    'id' | 'schoolId' | 'firstName' | 'lastName' | 'admissionNo' | 'classId' | 'status'
  >;
  school: { currency: string; timezone: string };
  /** The day statuses are judged on. */
  asOf: string;
  /** Whether the amounts are as they stood at the end of `asOf` (a past day), not today's. */
  past: boolean;
  statsVersion: bigint;
  totals: Totals;
  invoices: (Omit<StatementInvoiceRow, 'payments' | 'voidedAt'> & {
    payments: (Omit<StatementPaymentJson, 'amountMinor' | 'refundedMinor' | 'paidAt' | 'refunds'> & {
      amountMinor: bigint;
      refundedMinor: bigint;
      paidAt: Date;
      refunds: StatementRefund[];
    })[];
  })[];
}

/** An instant as JSON text the way JavaScript's `toISOString` writes it (UTC, milliseconds, `Z`). */
function isoInstant(column: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * The text of the statement query, compiled once from the same status and
 * balance SQL every other invoice read uses. Money goes into the JSON as
 * numbers: exact, because the ledger refuses any change that would take a
 * school's totals past 2^53 − 1 (`assertReportable`). Parameters: $1 the
 * student, $2 the caller's school (null for a platform admin), $3 the
 * application's clock, $4 `asOf` (null for today), $5 and $6 the issue-date
 * range (null for open ends), $7 whether a past `asOf` is answered as it
 * stood then.
 */
let statementText: string | undefined;
export function studentStatementQuery(db: Db): { name: string; text: string } {
  statementText ??= statementSql(db);
  return { name: 'bursar-student-statement-v3', text: statementText };
}

function statementSql(db: Db): string {
  const param = (n: number) => sql.raw(`$${n}`);
  const refunds = sql`case when p.refunded_minor > 0 then (
      select json_agg(json_build_object(
        'id', r.id, 'paymentId', r.payment_id, 'amountMinor', r.amount_minor,
        'fromCreditMinor', r.from_credit_minor, 'reason', r.reason, 'createdAt', ${isoInstant(sql`r.created_at`)}
      ) order by r.created_at, r.id) from refunds r where r.payment_id = p.id)
    else '[]'::json end`;
  const payments = sql`coalesce((
      select json_agg(json_build_object(
        'id', p.id, 'invoiceId', p.invoice_id, 'amountMinor', p.amount_minor,
        'refundedMinor', p.refunded_minor, 'method', p.method, 'reference', p.reference,
        'paidAt', ${isoInstant(sql`p.paid_at`)}, 'refunds', ${refunds}
      ) order by p.paid_at, p.id) from payments p where p.invoice_id = invoices.id), '[]'::json)`;
  const invoices = sql`coalesce((
      select json_agg(json_build_object(
        'id', invoices.id, 'number', invoices.number, 'issueDate', invoices.issue_date,
        'dueDate', invoices.due_date, 'totalMinor', invoices.total_minor,
        'paidMinor', invoices.paid_minor, 'refundedMinor', invoices.refunded_minor,
        'balanceMinor', ${balanceSql}, 'status', ${invoiceStatusOn(sql`coalesce(${param(4)}::date, d.today)`)},
        'payments', ${payments}
      ) order by invoices.due_date, invoices.number)
        from invoices
       where invoices.student_id = s.id
         and (${param(5)}::date is null or invoices.issue_date >= ${param(5)}::date)
         and (${param(6)}::date is null or invoices.issue_date <= ${param(6)}::date)), '[]'::json)`;
  return sql`select s.id, s.school_id as "schoolId", s.first_name as "firstName",
         s.last_name as "lastName", s.admission_no as "admissionNo", s.class_id as "classId", s.status,
         s.invoiced_minor as "invoicedMinor", s.paid_minor as "paidMinor",
         s.refunded_minor as "refundedMinor", s.balance_minor as "balanceMinor",
         s.credit_minor as "creditMinor", schools.currency, schools.timezone,
         coalesce(school_stats.version, 0)::bigint as "statsVersion", d.today::text as today,
         case when ${param(7)}::boolean and ${param(4)}::date < d.today then null else json_build_object(
           'student', json_build_object(
             'id', s.id, 'schoolId', s.school_id, 'firstName', s.first_name, 'lastName', s.last_name,
             'admissionNo', s.admission_no, 'classId', s.class_id, 'status', s.status),
           'currency', schools.currency,
           'asOf', coalesce(${param(4)}::date, d.today),
           'totals', json_build_object(
             'invoicedMinor', s.invoiced_minor, 'paidMinor', s.paid_minor, 'refundedMinor', s.refunded_minor,
             'balanceMinor', s.balance_minor, 'creditMinor', s.credit_minor),
           'invoices', ${invoices}
         )::text end as body
    from students s
    join schools on schools.id = s.school_id
    left join school_stats on school_stats.school_id = s.school_id
    cross join lateral (select (${param(3)}::timestamptz at time zone schools.timezone)::date as today) d
   where s.id = ${param(1)} and schools.deleted_at is null
     and (${param(2)}::uuid is null or s.school_id = ${param(2)}::uuid)`.compile(db).sql;
}

export interface StudentStatementInput {
  schoolId: string | null;
  studentId: string;
  from?: string | undefined;
  to?: string | undefined;
  asOf?: string | undefined;
  pointInTime?: boolean;
}

/**
 * The one query every student statement starts from, a prepared statement:
 * the student (none unless they belong to `schoolId` when one is given, and
 * their school is live), their running totals, the school's currency, zone
 * and stats version (migration 0003: a statement is exact for as long as that
 * stands), today in the school's zone, and today's statement itself as JSON
 * text (`body`, see {@link StudentStatementRow}).
 */
export async function studentStatementRow(
  db: Db,
  input: StudentStatementInput,
  now: Date = new Date(),
): Promise<StudentStatementRow | undefined> {
  const [row] = await preparedQuery<StudentStatementRow>(db, studentStatementQuery(db), [
    input.studentId,
    input.schoolId,
    now.toISOString(),
    input.asOf ?? null,
    input.from ?? null,
    input.to ?? null,
    input.pointInTime === true,
  ]);
  return row;
}

/**
 * A student's statement: whole-account totals, and the invoices issued in
 * [from, to] with their payments and refunds. `asOf` is the day statuses are
 * judged against (default: today in the school's time zone, by the
 * application's clock); the answer names it.
 *
 * Amounts are today's unless `pointInTime` is set and `asOf` is a day before
 * today in the school's zone: then every amount is as it stood at the end of
 * that day (invoices issued after it are not listed; payments, refunds,
 * credit moves and voids after it are undone), which takes two more queries;
 * `reuse` may hand back a statement kept at the same stats version instead
 * (`kept`). Money is bigint here, never a float.
 */
export async function studentStatement<K = never>(
  db: Db,
  input: StudentStatementInput,
  now: Date = new Date(),
  reuse?: (statsVersion: bigint) => K | undefined,
): Promise<LedgerStudentStatement | Kept<K> | undefined> {
  const row = await studentStatementRow(db, input, now);
  return row && studentStatementFrom(db, row, input, reuse);
}

/** The statement {@link studentStatement} answers, from its row. */
export async function studentStatementFrom<K = never>(
  db: Db,
  row: StudentStatementRow,
  input: StudentStatementInput,
  reuse?: (statsVersion: bigint) => K | undefined,
): Promise<LedgerStudentStatement | Kept<K>> {
  const {
    id,
    schoolId,
    firstName,
    lastName,
    admissionNo,
    classId,
    status,
    currency,
    timezone,
    statsVersion,
  } = row;
  const head = {
    student: { id, schoolId, firstName, lastName, admissionNo, classId, status },
    school: { currency, timezone },
    statsVersion,
  };
  if (row.body !== null) {
    const body = JSON.parse(row.body) as {
      asOf: string;
      totals: Record<keyof Totals, number>;
      invoices: (Record<'totalMinor' | 'paidMinor' | 'refundedMinor' | 'balanceMinor', number> &
        Omit<
          StatementInvoiceRow,
          'totalMinor' | 'paidMinor' | 'refundedMinor' | 'balanceMinor' | 'voidedAt' | 'payments'
        > & {
          payments: Parameters<typeof ledgerPayment>[0][];
        })[];
    };
    const totals = Object.fromEntries(
      Object.entries(body.totals).map(([name, value]) => [name, BigInt(value)]),
    ) as unknown as Totals;
    return {
      ...head,
      asOf: body.asOf,
      past: false,
      totals,
      invoices: body.invoices.map((invoice) => ({
        ...invoice,
        totalMinor: BigInt(invoice.totalMinor),
        paidMinor: BigInt(invoice.paidMinor),
        refundedMinor: BigInt(invoice.refundedMinor),
        balanceMinor: BigInt(invoice.balanceMinor),
        payments: invoice.payments.map(ledgerPayment),
      })),
    };
  }
  const kept = reuse?.(statsVersion);
  if (kept !== undefined) return { kept } as Kept<K>;
  const asOf = input.asOf!;
  const [totals, invoices] = await Promise.all([
    studentTotalsAsOf(db, id, asOf, timezone),
    studentInvoicesAsOf(db, { ...input, studentId: id, asOf, timezone }),
  ]);
  return {
    ...head,
    asOf,
    past: true,
    totals,
    invoices: invoices.map(({ voidedAt: _voidedAt, ...invoice }) => ({
      ...invoice,
      payments: invoice.payments.map(ledgerPayment),
    })),
  };
}

/** A payment from statement JSON (money as text or as an exact number) with bigint money and dates. */
function ledgerPayment(
  payment: Omit<StatementPaymentJson, 'amountMinor' | 'refundedMinor' | 'refunds'> & {
    amountMinor: string | number;
    refundedMinor: string | number;
    refunds: (Omit<StatementPaymentJson['refunds'][number], 'amountMinor' | 'fromCreditMinor'> & {
      amountMinor: string | number;
      fromCreditMinor: string | number;
    })[];
  },
) {
  return {
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
  };
}

/** Open balance of invoices whose days overdue (as of `asOf`) satisfy `range`. */
function agingBucket(asOf: string, range: RawBuilder<unknown>) {
  return sql<bigint>`coalesce(sum(invoices.total_minor - invoices.paid_minor + invoices.refunded_minor)
    filter (where (${asOf}::date - invoices.due_date) ${range}), 0)::bigint`;
}

export type AgingBucket = 'current' | 'days1To30' | 'days31To60' | 'days61To90' | 'days90Plus';
export type StudentSort = 'balance' | '-balance' | 'name' | 'admissionNo';

/** A school's summary: totals, how many students (active and all), open balances by days overdue. */
export interface SchoolSummary {
  studentsCount: number;
  studentsTotal: number;
  totals: Totals;
  aging: Record<AgingBucket, bigint>;
}

/**
 * A school's summary as of a day: totals (sums of the students' running
 * totals), how many students, and open balances by days overdue. Amounts are
 * today's; `schoolSummaryAsOf` has them as they stood at the end of a day.
 */
export async function schoolSummary(
  db: Db,
  input: { schoolId: string; asOf: string },
): Promise<SchoolSummary> {
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

/** A point-in-time question about a school: the end of local day `asOf` in the school's zone. */
export interface SchoolDay {
  schoolId: string;
  asOf: string;
  timezone: string;
}

/**
 * The school's open invoices at the end of `asOf` (`open_invoices`, by the
 * reports' rule) and, per student, what was invoiced, paid, refunded and
 * allocated by then (`invoiced`, `paid`, `refunded`, `allocated`), for a
 * `with` list. Students are the school's roll as it is now: who is on it,
 * and their status and class, are not kept over time.
 */
function schoolAsOfCtes(day: SchoolDay): RawBuilder<unknown> {
  const end = endOf(day.asOf, day.timezone);
  return sql`${reportCtes(day.schoolId, {})}, ${openInvoicesAsOfCte(day.schoolId, day.asOf, day.timezone)},
    invoiced as (
      select student_id, sum(total_minor)::bigint as amount from scoped_invoices
       where issue_date <= ${day.asOf} and (voided_at is null or voided_at >= ${end}) group by 1
    ),
    owed as (select student_id, sum(balance_full)::bigint as amount from open_invoices group by 1),
    paid as (
      select student_id, sum(amount_minor)::bigint as amount from payments
       where school_id = ${day.schoolId} and paid_at < ${end} group by 1
    ),
    refunded as (
      select p.student_id, sum(r.amount_minor)::bigint as amount from refunds r join payments p on p.id = r.payment_id
       where r.school_id = ${day.schoolId} and r.created_at < ${end} group by 1
    ),
    allocated as (
      select p.student_id, sum(a.amount_minor)::bigint as amount from allocations a join payments p on p.id = a.payment_id
       where a.school_id = ${day.schoolId} and a.effective_at < ${end} group by 1
    ),
    student_totals as (
      select s.id, s.first_name, s.last_name, s.admission_no, s.class_id, s.status,
             coalesce(invoiced.amount, 0)::bigint as invoiced_minor,
             coalesce(paid.amount, 0)::bigint as paid_minor,
             coalesce(refunded.amount, 0)::bigint as refunded_minor,
             coalesce(owed.amount, 0)::bigint as balance_minor,
             (coalesce(paid.amount, 0) - coalesce(refunded.amount, 0) - coalesce(allocated.amount, 0))::bigint as credit_minor
        from students s
        left join invoiced on invoiced.student_id = s.id
        left join owed on owed.student_id = s.id
        left join paid on paid.student_id = s.id
        left join refunded on refunded.student_id = s.id
        left join allocated on allocated.student_id = s.id
       where s.school_id = ${day.schoolId}
    )`;
}

/** Open balance at the end of the day of the open invoices whose days overdue satisfy `range`. */
function agingBucketAsOf(range: RawBuilder<unknown>) {
  return sql<bigint>`(select coalesce(sum(balance_full) filter (where days ${range}), 0)::bigint from open_invoices)`;
}

/**
 * A school's summary as it stood at the end of local day `asOf`: the sums of
 * its students' totals then, and the open balances then by days overdue on
 * that day. One query.
 */
export async function schoolSummaryAsOf(db: Db, day: SchoolDay): Promise<SchoolSummary> {
  const { rows } = await sql<Totals & Record<AgingBucket, bigint> & { active: number; enrolled: number }>`
    with ${schoolAsOfCtes(day)}
    select coalesce(sum(invoiced_minor), 0)::bigint as invoiced_minor,
           coalesce(sum(paid_minor), 0)::bigint as paid_minor,
           coalesce(sum(refunded_minor), 0)::bigint as refunded_minor,
           coalesce(sum(balance_minor), 0)::bigint as balance_minor,
           coalesce(sum(credit_minor), 0)::bigint as credit_minor,
           (count(*) filter (where status = 'active'))::int as active,
           count(*)::int as enrolled,
           ${agingBucketAsOf(sql`<= 0`)} as current,
           ${agingBucketAsOf(sql`between 1 and 30`)} as days1_to30,
           ${agingBucketAsOf(sql`between 31 and 60`)} as days31_to60,
           ${agingBucketAsOf(sql`between 61 and 90`)} as days61_to90,
           ${agingBucketAsOf(sql`> 90`)} as days90_plus
      from student_totals`.execute(db);
  const row = rows[0]!;
  return {
    studentsCount: row.active,
    studentsTotal: row.enrolled,
    totals: {
      invoicedMinor: row.invoicedMinor,
      paidMinor: row.paidMinor,
      refundedMinor: row.refundedMinor,
      balanceMinor: row.balanceMinor,
      creditMinor: row.creditMinor,
    },
    aging: {
      current: row.current,
      days1To30: row.days1To30,
      days31To60: row.days31To60,
      days61To90: row.days61To90,
      days90Plus: row.days90Plus,
    },
  };
}

/** One row of a school's page of students: who they are and their totals. */
export interface StudentBalanceRow extends Totals {
  id: string;
  firstName: string;
  lastName: string;
  admissionNo: string;
  classId: string | null;
  status: string;
}

/** A page of a school's students with their running totals, in the requested order. */
export async function schoolStudentBalances(
  db: Db,
  input: { schoolId: string; limit: number; offset: number; sort: StudentSort },
): Promise<StudentBalanceRow[]> {
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

/** `order by` for a page of `student_totals`, the same order `schoolStudentBalances` gives. */
function studentOrder(sort: StudentSort): RawBuilder<unknown> {
  const first =
    sort === '-balance'
      ? sql`balance_minor desc, `
      : sort === 'balance'
        ? sql`balance_minor asc, `
        : sort === 'admissionNo'
          ? sql`admission_no, `
          : sql``;
  return sql`${first}last_name, first_name, id`;
}

/**
 * A page of a school's students with their totals as they stood at the end
 * of local day `asOf`, in the requested order (by balance: the balance then).
 */
export async function schoolStudentBalancesAsOf(
  db: Db,
  input: SchoolDay & { limit: number; offset: number; sort: StudentSort },
): Promise<StudentBalanceRow[]> {
  const { rows } = await sql<StudentBalanceRow>`with ${schoolAsOfCtes(input)}
    select id, first_name, last_name, admission_no, class_id, status,
           invoiced_minor, paid_minor, refunded_minor, balance_minor, credit_minor
      from student_totals
     order by ${studentOrder(input.sort)}
     limit ${input.limit} offset ${input.offset}`.execute(db);
  return rows;
}

/**
 * Summary and one page of students together (what `GET /api/schools/:id/statement`
 * shows). With the school's `timezone` and a past `asOf`, point-in-time (as
 * `isPastDay` decides); otherwise today's amounts, aging judged on `asOf`.
 */
export async function schoolStatement(
  db: Db,
  input: {
    schoolId: string;
    asOf: string;
    limit: number;
    offset: number;
    sort: StudentSort;
    timezone?: string;
  },
) {
  const { timezone } = input;
  const past = timezone !== undefined && isPastDay(input.asOf, timezone);
  const [summary, students] = await Promise.all([
    past ? schoolSummaryAsOf(db, { ...input, timezone }) : schoolSummary(db, input),
    past ? schoolStudentBalancesAsOf(db, { ...input, timezone }) : schoolStudentBalances(db, input),
  ]);
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
