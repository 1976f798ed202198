import type { ForecastResult } from '@bursar/contracts';
import { sql } from 'kysely';
import { addDays } from '../dates.js';
import type { Db } from '../db.js';
import { toNumber } from '../money.js';
import { openInvoicesAsOfCte } from './aging.js';
import { percent, reportCtes, reportSchool, share, startOfDay, type Narrowing } from './scope.js';

export interface ForecastInput extends Narrowing {
  schoolId: string;
  asOf: string;
}

/** The horizons a forecast looks ahead, in days after `asOf`. */
export const FORECAST_HORIZONS = [30, 60, 90] as const;
/** How far back the on-time rates look: invoices due in the year before `asOf`. */
export const FORECAST_HISTORY_DAYS = 365;

interface ClassRow {
  classId: string | null;
  className: string | null;
  historyDue: bigint;
  historyOnTime: bigint;
  due30: bigint;
  due60: bigint;
  due90: bigint;
  invoices30: number;
  invoices60: number;
  invoices90: number;
}

/** An on-time rate as an exact fraction (`onTime / due`), and whose history it comes from. */
interface Rate {
  onTime: bigint;
  due: bigint;
  basis: 'class' | 'school' | 'none';
}

/** `amount × onTime / due`, rounded half up, in integers. */
function expected(amount: bigint, rate: Rate): bigint {
  if (rate.due === 0n) return 0n;
  return (amount * rate.onTime * 2n + rate.due) / (rate.due * 2n);
}

/**
 * The forecast: what is still to pay on invoices falling due in the next 30,
 * 60 and 90 days after `asOf` (balances as they stood at the end of that day),
 * and how much of it should arrive by its due date, judged per class by the
 * class's history: of what fell due in the year before `asOf`, the share that
 * had been paid by the end of its due date. A class without such history
 * takes the school's rate; a school without any history expects nothing.
 */
export async function forecastReport(db: Db, input: ForecastInput): Promise<ForecastResult> {
  const school = await reportSchool(db, input.schoolId);
  const tz = school.timezone;
  const historyFrom = sql`${input.asOf}::date - ${sql.lit(FORECAST_HISTORY_DAYS)}`;
  const upcoming = (days: number) => sql`o.due_date <= ${input.asOf}::date + ${sql.lit(days)}`;
  const { rows } = await sql<ClassRow>`
    with ${reportCtes(school.id, input)}, ${openInvoicesAsOfCte(school.id, input.asOf, tz)},
    history as (
      select i.student_id, ${share(sql`i.total_minor`, 'i', input)} as due,
             least(${share(sql`i.total_minor`, 'i', input)}, greatest(0, coalesce(sum(${share(sql`a.amount_minor`, 'i', input)}), 0)))::bigint as on_time
        from scoped_invoices i
        left join allocations a on a.invoice_id = i.id and a.effective_at < ${startOfDay(sql`i.due_date + 1`, tz)}
       where i.voided_at is null and i.due_date >= ${historyFrom} and i.due_date < ${input.asOf}::date
         and i.issue_date <= ${input.asOf}
       group by i.id, i.student_id, i.total_minor, i.lo, i.hi, i.den
    ),
    history_by_student as (
      select student_id, sum(due)::bigint as due, sum(on_time)::bigint as on_time from history group by 1
    ),
    ahead as (
      select o.student_id,
             ${share(sql`o.balance_full`, 'o', input)} as balance, o.due_date
        from open_invoices o
       where o.due_date > ${input.asOf}::date and ${upcoming(FORECAST_HORIZONS[2])}
    ),
    ahead_by_student as (
      select student_id,
             coalesce(sum(balance) filter (where due_date <= ${input.asOf}::date + ${sql.lit(FORECAST_HORIZONS[0])}), 0)::bigint as due_30,
             coalesce(sum(balance) filter (where due_date <= ${input.asOf}::date + ${sql.lit(FORECAST_HORIZONS[1])}), 0)::bigint as due_60,
             coalesce(sum(balance), 0)::bigint as due_90,
             (count(*) filter (where due_date <= ${input.asOf}::date + ${sql.lit(FORECAST_HORIZONS[0])}))::int as invoices_30,
             (count(*) filter (where due_date <= ${input.asOf}::date + ${sql.lit(FORECAST_HORIZONS[1])}))::int as invoices_60,
             count(*)::int as invoices_90
        from ahead group by 1
    )
    select s.class_id, c.name as class_name,
           coalesce(sum(h.due), 0)::bigint as history_due, coalesce(sum(h.on_time), 0)::bigint as history_on_time,
           coalesce(sum(a.due_30), 0)::bigint as due_30, coalesce(sum(a.due_60), 0)::bigint as due_60,
           coalesce(sum(a.due_90), 0)::bigint as due_90,
           coalesce(sum(a.invoices_30), 0)::int as invoices_30, coalesce(sum(a.invoices_60), 0)::int as invoices_60,
           coalesce(sum(a.invoices_90), 0)::int as invoices_90
      from (select student_id from history_by_student union select student_id from ahead_by_student) k
      join students s on s.id = k.student_id
      left join classes c on c.id = s.class_id
      left join history_by_student h on h.student_id = k.student_id
      left join ahead_by_student a on a.student_id = k.student_id
     group by s.class_id, c.name
     order by c.name nulls last, s.class_id`.execute(db);

  const schoolRate: Rate = {
    onTime: rows.reduce((sum, row) => sum + row.historyOnTime, 0n),
    due: rows.reduce((sum, row) => sum + row.historyDue, 0n),
    basis: 'school',
  };
  if (schoolRate.due === 0n) schoolRate.basis = 'none';
  const totals = FORECAST_HORIZONS.map((days) => ({ days, invoices: 0, due: 0n, expected: 0n }));
  const byClass = rows.map((row) => {
    const rate: Rate =
      row.historyDue > 0n ? { onTime: row.historyOnTime, due: row.historyDue, basis: 'class' } : schoolRate;
    const horizons = FORECAST_HORIZONS.map((days, index) => {
      const due = [row.due30, row.due60, row.due90][index]!;
      const invoices = [row.invoices30, row.invoices60, row.invoices90][index]!;
      const onTime = expected(due, rate);
      totals[index]!.invoices += invoices;
      totals[index]!.due += due;
      totals[index]!.expected += onTime;
      return horizon(days, invoices, due, onTime);
    });
    return {
      classId: row.classId,
      className: row.className,
      onTimeRatePercent: percent(rate.onTime, rate.due),
      rateBasis: rate.basis,
      horizons,
    };
  });
  return {
    kind: 'forecast',
    currency: school.currency,
    timezone: tz,
    asOf: input.asOf,
    historyFrom: addDays(input.asOf, -FORECAST_HISTORY_DAYS),
    horizons: totals.map((total) => horizon(total.days, total.invoices, total.due, total.expected)),
    byClass,
  };
}

function horizon(days: number, invoices: number, due: bigint, onTime: bigint) {
  return {
    days,
    invoices,
    dueMinor: toNumber(due),
    expectedOnTimeMinor: toNumber(onTime),
    expectedOnTimePercent: percent(onTime, due),
  };
}
