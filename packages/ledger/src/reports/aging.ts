import type { AgingBuckets, AgingResult } from '@bursar/contracts';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db.js';
import { toNumber } from '../money.js';
import {
  feeHeadPiece,
  feeHeadsCte,
  reportCtes,
  reportSchool,
  share,
  startOfDay,
  type Narrowing,
} from './scope.js';

export interface AgingInput extends Narrowing {
  schoolId: string;
  asOf: string;
}

/**
 * `open_invoices`: the scoped invoices that were open at the end of local day
 * `asOf`, with their balance as it was then. An invoice counts if it was
 * issued by that day and not void by its end; its balance then is its total
 * less what was allocated to it before that instant, which is today's
 * balance plus every allocation effective since (payments, credit moves,
 * refunds and voids that came later are undone). `days` is how many days past
 * due it was on `asOf`.
 */
export function openInvoicesAsOfCte(schoolId: string, asOf: string, timezone: string): RawBuilder<unknown> {
  const end = startOfDay(sql`${asOf}::date + 1`, timezone);
  return sql`later as (
      select invoice_id, sum(amount_minor)::bigint as amount from allocations
       where school_id = ${schoolId} and effective_at >= ${end} group by 1
    ),
    open_invoices as materialized (
      select i.*, (i.total_minor - i.paid_minor + i.refunded_minor + coalesce(later.amount, 0))::bigint as balance_full,
             (${asOf}::date - i.due_date) as days
        from scoped_invoices i left join later on later.invoice_id = i.id
       where i.issue_date <= ${asOf} and (i.voided_at is null or i.voided_at >= ${end})
         and i.total_minor - i.paid_minor + i.refunded_minor + coalesce(later.amount, 0) > 0
    )`;
}

/** `sum(amount)` per aging bucket of `days` (days overdue), as a JSON object of texts. */
function bucketsJson(amount: RawBuilder<unknown>): RawBuilder<unknown> {
  const bucket = (range: RawBuilder<unknown>) =>
    sql`coalesce(sum(${amount}) filter (where days ${range}), 0)::text`;
  return sql`json_build_object(
    'current', ${bucket(sql`<= 0`)}, 'days1To30', ${bucket(sql`between 1 and 30`)},
    'days31To60', ${bucket(sql`between 31 and 60`)}, 'days61To90', ${bucket(sql`between 61 and 90`)},
    'days90Plus', ${bucket(sql`> 90`)}, 'total', coalesce(sum(${amount}), 0)::text)`;
}

type BucketsText = Record<
  'current' | 'days1To30' | 'days31To60' | 'days61To90' | 'days90Plus' | 'total',
  string
>;

function buckets(text: BucketsText): AgingBuckets {
  return {
    current: toNumber(BigInt(text.current)),
    days1To30: toNumber(BigInt(text.days1To30)),
    days31To60: toNumber(BigInt(text.days31To60)),
    days61To90: toNumber(BigInt(text.days61To90)),
    days90Plus: toNumber(BigInt(text.days90Plus)),
    totalMinor: toNumber(BigInt(text.total)),
  };
}

/**
 * The aging report as of the end of local day `asOf` (today or any past day):
 * receivables by days overdue (current = not yet due), in total, by class
 * (the students' class now) and by fee head (each invoice's balance split
 * over its fee heads), and the defaulters (students with money overdue),
 * most overdue first. One query.
 */
export async function agingReport(db: Db, input: AgingInput): Promise<AgingResult> {
  const school = await reportSchool(db, input.schoolId);
  const balance = share(sql`o.balance_full`, 'o', input);
  const piece = feeHeadPiece(sql`o.balance_full`, sql`h`, sql`o.total_minor`);
  const headFilter = input.feeHead ? sql`where h.fee_head = ${input.feeHead}` : sql``;
  const { rows } = await sql<{
    total: BucketsText;
    byClass: (BucketsText & { classId: string | null; className: string | null })[] | null;
    byFeeHead: (BucketsText & { feeHead: string | null })[] | null;
    defaulters:
      | {
          studentId: string;
          admissionNo: string;
          firstName: string;
          lastName: string;
          classId: string | null;
          className: string | null;
          overdue: string;
          balance: string;
          oldestDueDate: string;
          daysOverdue: number;
        }[]
      | null;
  }>`
    with ${reportCtes(school.id, input)}, ${openInvoicesAsOfCte(school.id, input.asOf, school.timezone)},
    ${feeHeadsCte(sql`select id from open_invoices`)},
    scoped as materialized (
      select o.id, o.student_id, o.due_date, o.days, ${balance} as balance from open_invoices o
    ),
    by_class as (
      select s.class_id, c.name as class_name, ${bucketsJson(sql`sc.balance`)} as buckets
        from scoped sc join students s on s.id = sc.student_id left join classes c on c.id = s.class_id
       group by s.class_id, c.name
    ),
    by_fee_head as (
      select h.fee_head, ${bucketsJson(sql`h.piece`)} as buckets
        from (select h.fee_head, o.days, ${piece} as piece
                from open_invoices o join fee_heads h on h.invoice_id = o.id) h
        ${headFilter}
       group by h.fee_head
    ),
    defaulters as (
      select sc.student_id, sum(sc.balance) filter (where sc.days > 0) as overdue, sum(sc.balance) as balance,
             min(sc.due_date) filter (where sc.days > 0) as oldest
        from scoped sc group by sc.student_id
       having sum(sc.balance) filter (where sc.days > 0) > 0
    )
    select (select ${bucketsJson(sql`balance`)} from scoped) as total,
           (select json_agg(b.buckets::jsonb || jsonb_build_object('classId', b.class_id, 'className', b.class_name)
                            order by b.class_name nulls last, b.class_id) from by_class b) as by_class,
           (select json_agg(f.buckets::jsonb || jsonb_build_object('feeHead', f.fee_head)
                            order by f.fee_head nulls last) from by_fee_head f) as by_fee_head,
           (select json_agg(json_build_object(
                     'studentId', s.id, 'admissionNo', s.admission_no, 'firstName', s.first_name,
                     'lastName', s.last_name, 'classId', s.class_id, 'className', c.name,
                     'overdue', d.overdue::text, 'balance', d.balance::text,
                     'oldestDueDate', to_char(d.oldest, 'YYYY-MM-DD'), 'daysOverdue', ${input.asOf}::date - d.oldest)
                     order by d.overdue desc, d.balance desc, s.last_name, s.first_name, s.id)
              from defaulters d join students s on s.id = d.student_id left join classes c on c.id = s.class_id
           ) as defaulters`.execute(db);
  const row = rows[0]!;
  return {
    kind: 'aging',
    currency: school.currency,
    timezone: school.timezone,
    asOf: input.asOf,
    buckets: buckets(row.total),
    byClass: (row.byClass ?? []).map((entry) => ({
      classId: entry.classId,
      className: entry.className,
      ...buckets(entry),
    })),
    byFeeHead: (row.byFeeHead ?? []).map((entry) => ({ feeHead: entry.feeHead, ...buckets(entry) })),
    defaulters: (row.defaulters ?? []).map(({ overdue, balance: owed, ...entry }) => ({
      ...entry,
      overdueMinor: toNumber(BigInt(overdue)),
      balanceMinor: toNumber(BigInt(owed)),
    })),
  };
}
