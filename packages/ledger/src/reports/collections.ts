import type { CollectionsPeriod, CollectionsResult, ReportGranularity } from '@bursar/contracts';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db.js';
import { toNumber } from '../money.js';
import {
  localDate,
  percent,
  periodStart,
  periodStep,
  reportCtes,
  reportSchool,
  share,
  startOfDay,
  type Narrowing,
} from './scope.js';

export interface CollectionsInput extends Narrowing {
  schoolId: string;
  from: string;
  to: string;
  granularity: ReportGranularity;
}

interface PeriodRow {
  start: string;
  end: string;
  invoiced: bigint;
  due: bigint;
  collected: bigint;
  refunded: bigint;
  payments: number;
  daysToPaySum: bigint;
  outstanding: bigint;
}

/**
 * The collections report: one row per period of `granularity` from `from` to
 * `to` (local dates, inclusive; the first and last periods are cut to the
 * range), zeros included, in one query.
 *
 * - invoiced: totals of the invoices issued in the period (not void);
 * - due: totals of the invoices falling due in the period (not void);
 * - collected: payments received in the period (by `paid_at`), refunded:
 *   refunds made in it; a payment or refund counts where its invoice does
 *   (its class, its fee heads);
 * - outstanding: receivables at the end of the period as they stood then:
 *   every invoice issued by then and not void by then, less the money
 *   allocated to it by then (allocations by their effective time);
 * - average days to pay: over the period's payments, the local day paid
 *   minus the invoice's due date.
 *
 * Days are the school's local days: a payment at 00:30 in Madrid on the
 * first of the month belongs to that month, whatever the UTC offset.
 */
export async function collectionsReport(db: Db, input: CollectionsInput): Promise<CollectionsResult> {
  const school = await reportSchool(db, input.schoolId);
  const tz = school.timezone;
  const { granularity } = input;
  const rangeStart = startOfDay(sql`${input.from}`, tz);
  const rangeEnd = startOfDay(sql`${input.to}::date + 1`, tz);
  const bucket = (date: RawBuilder<unknown>) => periodStart(date, granularity);
  const { rows } = await sql<PeriodRow>`
    with ${reportCtes(school.id, input)},
    periods as (
      select p::date as period, greatest(p::date, ${input.from}::date) as start,
             least((p + ${periodStep(granularity)})::date - 1, ${input.to}::date) as "end"
        from generate_series(${bucket(sql`${input.from}`)}::timestamp, ${input.to}::date::timestamp, ${periodStep(granularity)}) p
    ),
    issued as (
      select ${bucket(sql`issue_date`)} as period, sum(${share(sql`total_minor`, 'scoped_invoices', input)})::bigint as amount
        from scoped_invoices
       where voided_at is null and issue_date between ${input.from} and ${input.to}
       group by 1
    ),
    due as (
      select ${bucket(sql`due_date`)} as period, sum(${share(sql`total_minor`, 'scoped_invoices', input)})::bigint as amount
        from scoped_invoices
       where voided_at is null and due_date between ${input.from} and ${input.to}
       group by 1
    ),
    paid as (
      select ${bucket(localDate(sql`p.paid_at`, tz))} as period,
             sum(${share(sql`p.amount_minor`, 'i', input)})::bigint as amount, count(*)::int as payments,
             sum(${localDate(sql`p.paid_at`, tz)} - i.due_date)::bigint as days
        from payments p join scoped_invoices i on i.id = p.invoice_id
       where p.school_id = ${school.id} and p.paid_at >= ${rangeStart} and p.paid_at < ${rangeEnd}
       group by 1
    ),
    refunded as (
      select ${bucket(localDate(sql`r.created_at`, tz))} as period,
             sum(${share(sql`r.amount_minor`, 'i', input)})::bigint as amount
        from refunds r join payments p on p.id = r.payment_id join scoped_invoices i on i.id = p.invoice_id
       where r.school_id = ${school.id} and r.created_at >= ${rangeStart} and r.created_at < ${rangeEnd}
       group by 1
    ),
    -- Receivables move by events: an invoice adds its total on its issue day and takes it
    -- back when voided; each allocation takes its amount off from its effective time.
    -- Nothing counts before the invoice is on the books: money that reached it earlier (cash
    -- taken before it was issued, credit moved onto an invoice billed ahead) and a void made
    -- earlier count from its issue day.
    -- Outstanding at a period's end is the sum of every event up to that day.
    movements as (
      select issue_date as day, ${share(sql`total_minor`, 'scoped_invoices', input)} as amount
        from scoped_invoices where issue_date <= ${input.to}
      union all
      select greatest(${localDate(sql`voided_at`, tz)}, issue_date), -${share(sql`total_minor`, 'scoped_invoices', input)}
        from scoped_invoices where voided_at is not null and voided_at < ${rangeEnd} and issue_date <= ${input.to}
      union all
      select greatest(${localDate(sql`a.effective_at`, tz)}, i.issue_date), -${share(sql`a.amount_minor`, 'i', input)}
        from allocations a join scoped_invoices i on i.id = a.invoice_id
       where a.school_id = ${school.id} and a.effective_at < ${rangeEnd} and i.issue_date <= ${input.to}
      ${voidedPieces(school.id, input, tz, rangeEnd)}
    ),
    outstanding as (
      select case when day < ${input.from} then null else ${bucket(sql`day`)} end as period,
             sum(amount)::bigint as amount
        from movements group by 1
    )
    select to_char(periods.start, 'YYYY-MM-DD') as start, to_char(periods."end", 'YYYY-MM-DD') as "end",
           coalesce(issued.amount, 0)::bigint as invoiced, coalesce(due.amount, 0)::bigint as due,
           coalesce(paid.amount, 0)::bigint as collected, coalesce(refunded.amount, 0)::bigint as refunded,
           coalesce(paid.payments, 0)::int as payments, coalesce(paid.days, 0)::bigint as days_to_pay_sum,
           ((select coalesce(sum(amount), 0) from outstanding where period is null)
             + sum(coalesce(outstanding.amount, 0)) over (order by periods.period))::bigint as outstanding
      from periods
      left join issued on issued.period = periods.period
      left join due on due.period = periods.period
      left join paid on paid.period = periods.period
      left join refunded on refunded.period = periods.period
      left join outstanding on outstanding.period = periods.period
     order by periods.period`.execute(db);

  const periods = rows.map((row) => period(row));
  const sum = (pick: (row: PeriodRow) => bigint) => rows.reduce((total, row) => total + pick(row), 0n);
  const totals = period({
    start: input.from,
    end: input.to,
    invoiced: sum((row) => row.invoiced),
    due: sum((row) => row.due),
    collected: sum((row) => row.collected),
    refunded: sum((row) => row.refunded),
    payments: rows.reduce((total, row) => total + row.payments, 0),
    daysToPaySum: sum((row) => row.daysToPaySum),
    outstanding: rows.at(-1)?.outstanding ?? 0n,
  });
  const { start: _start, end: _end, ...totalsOnly } = totals;
  return {
    kind: 'collections',
    currency: school.currency,
    timezone: tz,
    from: input.from,
    to: input.to,
    granularity,
    periods,
    totals: totalsOnly,
  };
}

/**
 * With a fee head, the void of an invoice gives back, on the day it is made, the head's
 * piece of each allocation the invoice ever had (the void's own included, which cancel
 * theirs): a void invoice then owes the head nothing, as it owes the school nothing. The
 * void's allocations alone would not do it: they return each payment's net in one amount,
 * and a head's piece of a net need not be the sum of its pieces of the payment and refunds
 * that made it (a payment partly refunded, then voided), which would leave a unit of
 * rounding behind for good. Without a fee head they cancel exactly, and nothing is added.
 */
function voidedPieces(
  schoolId: string,
  input: CollectionsInput,
  tz: string,
  rangeEnd: RawBuilder<Date>,
): RawBuilder<unknown> {
  if (!input.feeHead) return sql``;
  return sql`union all
      select greatest(${localDate(sql`i.voided_at`, tz)}, i.issue_date), ${share(sql`a.amount_minor`, 'i', input)}
        from allocations a join scoped_invoices i on i.id = a.invoice_id
       where a.school_id = ${schoolId} and i.voided_at < ${rangeEnd} and i.issue_date <= ${input.to}`;
}

function period(row: PeriodRow): CollectionsPeriod {
  return {
    start: row.start,
    end: row.end,
    invoicedMinor: toNumber(row.invoiced),
    collectedMinor: toNumber(row.collected),
    refundedMinor: toNumber(row.refunded),
    netCollectedMinor: toNumber(row.collected - row.refunded),
    dueMinor: toNumber(row.due),
    collectionRatePercent: percent(row.collected, row.due),
    outstandingMinor: toNumber(row.outstanding),
    avgDaysToPay: row.payments ? Math.round((Number(row.daysToPaySum) / row.payments) * 10) / 10 : null,
    payments: row.payments,
  };
}
