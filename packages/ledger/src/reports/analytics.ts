import type {
  FeeHeadAnalytics,
  FeeHeadAnalyticsList,
  PlatformDashboard,
  SchoolDashboard,
  StudentAnalyticsList,
} from '@bursar/contracts';
import { sql } from 'kysely';
import type { Db } from '../db.js';
import { addDays } from '../dates.js';
import { toNumber } from '../money.js';
import { percent, startOfDay, type ReportSchool } from './scope.js';

/** Days in the dashboard's trend, today included. */
export const TREND_DAYS = 30;
/** Fee heads the dashboard lists. */
export const TOP_FEE_HEADS = 5;

interface FeeHeadRow {
  feeHead: string | null;
  invoiced: bigint;
  collected: bigint;
  outstanding: bigint;
}

/**
 * Per fee head: the live invoices' totals, what was applied to them net of
 * refunds, and their open balances, each amount of an invoice split over its
 * fee heads (so a head's pieces of one invoice add up to the invoice's amount
 * exactly), summed from the students' running totals by fee head
 * (`student_fee_heads`, kept by `refreshStudentTotals`; migration 0012). Most
 * collected first; heads in byte order (no head last) break ties.
 */
async function feeHeadRows(db: Db, schoolId: string, options: { limit?: number } = {}) {
  const { rows } = await sql<FeeHeadRow>`
    select nullif(fee_head, '') as fee_head, sum(invoiced_minor)::bigint as invoiced,
           sum(collected_minor)::bigint as collected, sum(outstanding_minor)::bigint as outstanding
      from student_fee_heads where school_id = ${schoolId}
     group by fee_head
     order by collected desc, fee_head = '', fee_head
     ${options.limit ? sql`limit ${options.limit}` : sql``}`.execute(db);
  return rows;
}

interface DayRow {
  date: string;
  collected: bigint;
}

/**
 * Net collections (payments received, by `paid_at`, less refunds made, by
 * when they were made) per local day from `from` to `to`, zeros included.
 * Both read their (school, time) index, with the amounts in it.
 */
async function netCollectedByDay(db: Db, school: ReportSchool, from: string, to: string) {
  const tz = school.timezone;
  const start = startOfDay(sql`${from}`, tz);
  const end = startOfDay(sql`${to}::date + 1`, tz);
  const { rows } = await sql<DayRow>`
    with paid as (
      select (paid_at at time zone ${tz})::date as day, sum(amount_minor) as amount from payments
       where school_id = ${school.id} and paid_at >= ${start} and paid_at < ${end} group by 1
    ),
    refunded as (
      select (created_at at time zone ${tz})::date as day, sum(amount_minor) as amount from refunds
       where school_id = ${school.id} and created_at >= ${start} and created_at < ${end} group by 1
    )
    select to_char(d, 'YYYY-MM-DD') as date, (coalesce(paid.amount, 0) - coalesce(refunded.amount, 0))::bigint as collected
      from generate_series(${from}::date, ${to}::date, interval '1 day') d
      left join paid on paid.day = d::date left join refunded on refunded.day = d::date
     order by d`.execute(db);
  return rows;
}

/**
 * One school's dashboard on local day `today`: totals from the students'
 * running totals (invoiced, collected net of refunds, outstanding), what is
 * overdue (open balances past their due date), net collections today, this
 * month and on each of the last 30 days, and the five fee heads that
 * collected most. Four queries, run together, each on an index of the school,
 * reading running totals or covering indexes.
 */
export async function schoolDashboard(db: Db, school: ReportSchool, today: string): Promise<SchoolDashboard> {
  const monthStart = `${today.slice(0, 7)}-01`;
  const trendStart = addDays(today, 1 - TREND_DAYS);
  const from = monthStart < trendStart ? monthStart : trendStart;
  const [totals, overdue, days, heads] = await Promise.all([
    db
      .selectFrom('students')
      .select([
        sql<bigint>`coalesce(sum(invoiced_minor), 0)::bigint`.as('invoiced'),
        sql<bigint>`coalesce(sum(paid_minor - refunded_minor), 0)::bigint`.as('collected'),
        sql<bigint>`coalesce(sum(balance_minor), 0)::bigint`.as('outstanding'),
      ])
      .where('schoolId', '=', school.id)
      .executeTakeFirstOrThrow(),
    // The open invoices' partial index, with the amounts in it.
    db
      .selectFrom('invoices')
      .select(sql<bigint>`coalesce(sum(total_minor - paid_minor + refunded_minor), 0)::bigint`.as('amount'))
      .where('schoolId', '=', school.id)
      .where('voidedAt', 'is', null)
      .where(sql<boolean>`total_minor - paid_minor + refunded_minor > 0`)
      .where('dueDate', '<', today)
      .executeTakeFirstOrThrow(),
    netCollectedByDay(db, school, from, today),
    feeHeadRows(db, school.id, { limit: TOP_FEE_HEADS }),
  ]);
  const sumFrom = (first: string) =>
    days.filter((day) => day.date >= first).reduce((total, day) => total + day.collected, 0n);
  return {
    schoolId: school.id,
    currency: school.currency,
    today,
    totals: {
      invoicedMinor: toNumber(totals.invoiced),
      collectedMinor: toNumber(totals.collected),
      outstandingMinor: toNumber(totals.outstanding),
      overdueMinor: toNumber(overdue.amount),
      collectedTodayMinor: toNumber(sumFrom(today)),
      collectedThisMonthMinor: toNumber(sumFrom(monthStart)),
    },
    topFeeHeads: heads
      .filter((head) => head.collected > 0n)
      .map((head) => ({ feeHead: head.feeHead, collectedMinor: toNumber(head.collected) })),
    trend: days
      .filter((day) => day.date >= trendStart)
      .map((day) => ({ date: day.date, collectedMinor: toNumber(day.collected) })),
  };
}

interface PlatformRow {
  currency: string;
  schools: number;
  invoiced: bigint;
  collected: bigint;
  outstanding: bigint;
  overdue: bigint;
  collectedToday: bigint;
  collectedThisMonth: bigint;
}

/**
 * Every live school's dashboard totals added up per currency (amounts in
 * different currencies are never added). "Today" and "this month" are each
 * school's own, in its zone, at the instant `now`.
 */
export async function platformDashboard(db: Db, now: Date = new Date()): Promise<PlatformDashboard> {
  const { rows } = await sql<PlatformRow>`
    with live as (
      select id, currency, timezone, (${now}::timestamptz at time zone timezone)::date as today
        from schools where deleted_at is null
    ),
    bounds as (
      select id, currency, today,
             (today::timestamp at time zone timezone) as today_start,
             (date_trunc('month', today)::date::timestamp at time zone timezone) as month_start,
             ((today + 1)::timestamp at time zone timezone) as day_end
        from live
    ),
    money as (
      select school_id, sum(invoiced_minor) as invoiced, sum(paid_minor - refunded_minor) as collected,
             sum(balance_minor) as outstanding
        from students group by school_id
    ),
    overdue as (
      select b.id, sum(i.total_minor - i.paid_minor + i.refunded_minor) as amount
        from bounds b join invoices i on i.school_id = b.id
       where i.voided_at is null and i.total_minor - i.paid_minor + i.refunded_minor > 0 and i.due_date < b.today
       group by b.id
    ),
    recent as (
      select b.id,
             coalesce(p.today, 0) - coalesce(r.today, 0) as today,
             coalesce(p.month, 0) - coalesce(r.month, 0) as month
        from bounds b
        cross join lateral (
          select sum(amount_minor) filter (where paid_at >= b.today_start) as today, sum(amount_minor) as month
            from payments where school_id = b.id and paid_at >= b.month_start and paid_at < b.day_end) p
        cross join lateral (
          select sum(amount_minor) filter (where created_at >= b.today_start) as today, sum(amount_minor) as month
            from refunds where school_id = b.id and created_at >= b.month_start and created_at < b.day_end) r
    )
    select b.currency, count(*)::int as schools,
           coalesce(sum(m.invoiced), 0)::bigint as invoiced, coalesce(sum(m.collected), 0)::bigint as collected,
           coalesce(sum(m.outstanding), 0)::bigint as outstanding, coalesce(sum(o.amount), 0)::bigint as overdue,
           coalesce(sum(r.today), 0)::bigint as collected_today, coalesce(sum(r.month), 0)::bigint as collected_this_month
      from bounds b
      left join money m on m.school_id = b.id
      left join overdue o on o.id = b.id
      left join recent r on r.id = b.id
     group by b.currency
     order by b.currency`.execute(db);
  return {
    currencies: rows.map((row) => ({
      currency: row.currency,
      schools: row.schools,
      invoicedMinor: toNumber(row.invoiced),
      collectedMinor: toNumber(row.collected),
      outstandingMinor: toNumber(row.outstanding),
      overdueMinor: toNumber(row.overdue),
      collectedTodayMinor: toNumber(row.collectedToday),
      collectedThisMonthMinor: toNumber(row.collectedThisMonth),
    })),
  };
}

/**
 * What moves the platform dashboard, for a cache key: every school's money
 * version, summed and counted (versions only go up, and a school's first
 * money adds a row), how many schools are live, and the zones they are in
 * (each zone's local date moves "today").
 */
export async function platformVersion(db: Db): Promise<{ version: string; zones: string[] }> {
  const { rows } = await sql<{ version: string; zones: string[] | null }>`
    select (select coalesce(sum(version), 0)::text || '.' || count(*)::text from school_stats)
             || '.' || (select count(*)::text from schools where deleted_at is null) as version,
           (select array_agg(distinct timezone order by timezone) from schools where deleted_at is null) as zones`.execute(
    db,
  );
  const row = rows[0]!;
  return { version: row.version, zones: row.zones ?? [] };
}

function feeHeadJson(row: FeeHeadRow): FeeHeadAnalytics {
  return {
    feeHead: row.feeHead,
    invoicedMinor: toNumber(row.invoiced),
    collectedMinor: toNumber(row.collected),
    outstandingMinor: toNumber(row.outstanding),
    collectionRatePercent: percent(row.collected, row.invoiced),
  };
}

/**
 * A school's fee heads: invoiced, collected (net of refunds) and outstanding
 * on its live invoices, each invoice's amounts split over its lines' fee
 * heads in proportion to their amounts, and the share collected. Most
 * collected first. A school has a handful of heads, so they are paged here.
 */
export async function feeHeadAnalytics(
  db: Db,
  school: ReportSchool,
  page: { limit: number; offset: number },
): Promise<FeeHeadAnalyticsList> {
  const rows = await feeHeadRows(db, school.id);
  return {
    currency: school.currency,
    data: rows.slice(page.offset, page.offset + page.limit).map(feeHeadJson),
    pagination: { limit: page.limit, offset: page.offset, total: rows.length },
  };
}

export type StudentAnalyticsSort = 'balance' | 'paid' | 'name';

export interface StudentAnalyticsInput {
  sort: StudentAnalyticsSort;
  /** Default: largest first for money, A to Z for names. */
  order?: 'asc' | 'desc' | undefined;
  limit: number;
  offset: number;
}

/**
 * A page of a school's students with their running totals, in the order
 * asked for. Money sorts break ties by name (A to Z), and the id is always
 * the last key, so pages never overlap or skip a student.
 */
export async function studentAnalytics(
  db: Db,
  school: ReportSchool,
  input: StudentAnalyticsInput,
): Promise<StudentAnalyticsList> {
  const order = input.order ?? (input.sort === 'name' ? 'asc' : 'desc');
  let query = db
    .selectFrom('students')
    .select([
      'id',
      'admissionNo',
      'firstName',
      'lastName',
      'classId',
      'status',
      'invoicedMinor',
      'paidMinor',
      'refundedMinor',
      'balanceMinor',
      'creditMinor',
    ])
    .where('schoolId', '=', school.id);
  if (input.sort === 'name') {
    query = query.orderBy('lastName', order).orderBy('firstName', order).orderBy('id', order);
  } else {
    query = query
      .orderBy(input.sort === 'balance' ? 'balanceMinor' : 'paidMinor', order)
      .orderBy('lastName')
      .orderBy('firstName')
      .orderBy('id');
  }
  const [rows, count] = await Promise.all([
    query.limit(input.limit).offset(input.offset).execute(),
    db
      .selectFrom('students')
      .select(sql<number>`count(*)::int`.as('total'))
      .where('schoolId', '=', school.id)
      .executeTakeFirstOrThrow(),
  ]);
  return {
    currency: school.currency,
    data: rows.map((row) => ({
      studentId: row.id,
      admissionNo: row.admissionNo,
      firstName: row.firstName,
      lastName: row.lastName,
      classId: row.classId,
      status: row.status,
      invoicedMinor: toNumber(row.invoicedMinor),
      paidMinor: toNumber(row.paidMinor),
      refundedMinor: toNumber(row.refundedMinor),
      balanceMinor: toNumber(row.balanceMinor),
      creditMinor: toNumber(row.creditMinor),
    })),
    pagination: { limit: input.limit, offset: input.offset, total: count.total },
  };
}
