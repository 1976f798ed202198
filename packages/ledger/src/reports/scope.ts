import { AppError, TERM_START_MONTHS, type ReportGranularity } from '@bursar/contracts';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db.js';

/** The school a report is about: its name, zone (period boundaries are its local midnights), currency and locale. */
export interface ReportSchool {
  id: string;
  name: string;
  timezone: string;
  currency: string;
  locale: string;
}

export async function reportSchool(db: Db, schoolId: string): Promise<ReportSchool> {
  const school = await db
    .selectFrom('schools')
    .select(['id', 'name', 'timezone', 'currency', 'locale'])
    .where('id', '=', schoolId)
    .where('deletedAt', 'is', null)
    .executeTakeFirst();
  if (!school) throw new AppError('not_found', 'School not found');
  return school;
}

/**
 * The school and its money version (`school_stats.version`) in one query:
 * what every cached analytics answer is keyed by, read on every request.
 */
export async function reportSchoolAndVersion(
  db: Db,
  schoolId: string,
): Promise<{ school: ReportSchool; version: bigint }> {
  const row = await db
    .selectFrom('schools')
    .leftJoin('schoolStats', 'schoolStats.schoolId', 'schools.id')
    .select([
      'schools.id',
      'schools.name',
      'schools.timezone',
      'schools.currency',
      'schools.locale',
      'schoolStats.version',
    ])
    .where('schools.id', '=', schoolId)
    .where('schools.deletedAt', 'is', null)
    .executeTakeFirst();
  if (!row) throw new AppError('not_found', 'School not found');
  const { version, ...school } = row;
  return { school, version: version ?? 0n };
}

/** What a report is narrowed to: one class (the students now in it) and/or one fee head. */
export interface Narrowing {
  classId?: string | undefined;
  feeHead?: string | undefined;
}

/**
 * The common table expressions a report starts from, for a `with` list.
 *
 * `scoped_invoices`: the school's invoices the report covers, each with the
 * share of its money that belongs to the report. Without a fee head that is
 * all of it. With one, an invoice's money is split over its fee heads in
 * proportion to their line amounts (`fee_heads`), and invoices without that
 * fee head are left out.
 * The fee head's share is its piece by `feeHeadsCte`'s rule, computed for
 * that one head.
 */
export function reportCtes(schoolId: string, narrowing: Narrowing): RawBuilder<unknown> {
  const classFilter = narrowing.classId
    ? sql`and i.student_id in (select id from students where school_id = ${schoolId} and class_id = ${narrowing.classId})`
    : sql``;
  const columns = sql`i.id, i.student_id, i.total_minor, i.paid_minor, i.refunded_minor, i.issue_date, i.due_date, i.voided_at`;
  const head = sql`coalesce(l.fee_head, '') collate "C"`;
  if (!narrowing.feeHead) {
    return sql`scoped_invoices as (
      select ${columns}, 0::numeric as lo, 1::numeric as hi, 1::numeric as den
        from invoices i where i.school_id = ${schoolId} ${classFilter})`;
  }
  // The bounds of one fee head, without the other heads' rows: the heads before it and through it.
  return sql`scoped_invoices as (
      select ${columns}, h.lo, h.hi, i.total_minor::numeric as den
        from invoices i
        join (select l.invoice_id,
                     coalesce(sum(l.amount_minor) filter (where ${head} < ${narrowing.feeHead}), 0)::numeric as lo,
                     coalesce(sum(l.amount_minor) filter (where ${head} <= ${narrowing.feeHead}), 0)::numeric as hi
                from invoice_lines l join invoices li on li.id = l.invoice_id
               where li.school_id = ${schoolId}
               group by l.invoice_id having bool_or(l.fee_head = ${narrowing.feeHead})) h on h.invoice_id = i.id
       where i.school_id = ${schoolId} and i.total_minor > 0 ${classFilter})`;
}

/**
 * `fee_heads`: for the invoices `invoiceIds` (a query of ids), a row per
 * invoice and fee head with its running bounds `lo`..`hi` over the invoice's
 * heads in name order (byte order, so SQL and code agree). A head's piece of
 * an amount is rounded toward zero against those bounds (`feeHeadPiece`), so
 * the pieces of one amount always add up to it exactly.
 */
export function feeHeadsCte(invoiceIds: RawBuilder<unknown>): RawBuilder<unknown> {
  const head = sql`coalesce(l.fee_head, '') collate "C"`;
  return sql`fee_heads as (
    select invoice_id, nullif(fee_head, '') as fee_head, sum(amount) over w - amount as lo, sum(amount) over w as hi
      from (select l.invoice_id, ${head} as fee_head, sum(l.amount_minor)::numeric as amount
              from invoice_lines l where l.invoice_id in (${invoiceIds}) group by 1, 2) heads
    window w as (partition by invoice_id order by fee_head rows between unbounded preceding and current row))`;
}

/**
 * The report's share of an amount `x` of an invoice in `alias` (a row of
 * `scoped_invoices`): `x` itself without a fee head, else the fee head's piece of it.
 */
export function share(x: RawBuilder<unknown>, alias: string, narrowing: Narrowing): RawBuilder<bigint> {
  if (!narrowing.feeHead) return sql<bigint>`(${x})`;
  return feeHeadPiece(x, sql.ref(alias), sql`${sql.ref(alias)}.den`);
}

/**
 * A fee head's piece of amount `x` of one invoice: `bounds` is a row with the
 * head's running bounds `lo`/`hi`, `total` the invoice's total.
 */
export function feeHeadPiece(
  x: RawBuilder<unknown>,
  bounds: RawBuilder<unknown>,
  total: RawBuilder<unknown>,
): RawBuilder<bigint> {
  return sql<bigint>`(case when ${total} > 0
    then div((${x})::numeric * ${bounds}.hi, ${total}) - div((${x})::numeric * ${bounds}.lo, ${total}) else 0 end)::bigint`;
}

/** The instant a local date starts in `timezone` (its local midnight, whatever the offset that day). */
export function startOfDay(date: RawBuilder<unknown>, timezone: string): RawBuilder<Date> {
  return sql<Date>`((${date})::date::timestamp at time zone ${timezone})`;
}

/** The local date of an instant in `timezone`. */
export function localDate(instant: RawBuilder<unknown>, timezone: string): RawBuilder<string> {
  return sql<string>`((${instant}) at time zone ${timezone})::date`;
}

/** The first day of the period of `granularity` that holds local date `date`. */
export function periodStart(date: RawBuilder<unknown>, granularity: ReportGranularity): RawBuilder<string> {
  switch (granularity) {
    case 'day':
      return sql<string>`(${date})::date`;
    case 'week':
      return sql<string>`date_trunc('week', (${date})::date)::date`;
    case 'month':
      return sql<string>`date_trunc('month', (${date})::date)::date`;
    case 'term': {
      // The latest term start on or before the date (TERM_START_MONTHS, in order).
      const [first, ...rest] = TERM_START_MONTHS;
      const month = sql`extract(month from (${date})::date)::int`;
      const year = sql`extract(year from (${date})::date)::int`;
      const cases = [...rest]
        .reverse()
        .map(
          (start) => sql`when ${month} >= ${sql.lit(start)} then make_date(${year}, ${sql.lit(start)}, 1)`,
        );
      return sql<string>`(case ${sql.join(cases, sql` `)} else make_date(${year}, ${sql.lit(first)}, 1) end)`;
    }
  }
}

/** The step from one period's first day to the next one's. */
export function periodStep(granularity: ReportGranularity): RawBuilder<unknown> {
  switch (granularity) {
    case 'day':
      return sql`interval '1 day'`;
    case 'week':
      return sql`interval '1 week'`;
    case 'month':
      return sql`interval '1 month'`;
    case 'term':
      return sql`interval '4 months'`;
  }
}

/** Rounds a ratio to a percentage with two decimals; null when there is nothing to divide by. */
export function percent(part: bigint, whole: bigint): number | null {
  if (whole === 0n) return null;
  // Half away from zero on the hundredths of a percent, in integers.
  const scaled = part * 10_000n;
  const q = scaled / whole;
  const r = scaled % whole;
  const rounded =
    (r < 0n ? -r : r) * 2n >= (whole < 0n ? -whole : whole) ? q + (scaled < 0n !== whole < 0n ? -1n : 1n) : q;
  return Number(rounded) / 100;
}
