import { type Kysely, sql } from 'kysely';

// Per-student running totals by fee head, for the analytics dashboard and its
// fee-head list (see docs/decisions/0012-reports.md).
//
// A school's money by fee head means splitting every invoice's total, net
// paid and balance over its lines' fee heads: read from the invoices and
// their lines, that is every line of the school (100,000 rows scattered over
// the table for a 5,000-student school, most of a second). The split is kept
// instead, per student, in the same transaction as the student's other
// running totals (refreshStudentTotals), under the student lock, so it is
// exact by construction; the dashboard then sums a few rows per student.
//
// student_fee_head_totals is the split itself, a view: an invoice's amount x
// is shared over its fee heads (lines without one under '') in proportion to
// their line amounts, heads in byte order, each piece trunc(x·hi/total) −
// trunc(x·lo/total) against the running bounds, so the pieces add up to x
// (the rule of packages/ledger/src/reports/scope.ts). Void invoices count
// for nothing. A filter on student_id reaches inside (it is a partition key
// of the window and a grouping key), so one student's refresh reads only
// their invoices.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create view student_fee_head_totals as
      select h.school_id, h.student_id, h.fee_head,
             sum(div(h.total::numeric * h.hi, h.total) - div(h.total::numeric * h.lo, h.total))::bigint as invoiced_minor,
             sum(div(h.net::numeric * h.hi, h.total) - div(h.net::numeric * h.lo, h.total))::bigint as collected_minor,
             sum(div(h.balance::numeric * h.hi, h.total) - div(h.balance::numeric * h.lo, h.total))::bigint as outstanding_minor
        from (
          select heads.*, sum(amount) over w - amount as lo, sum(amount) over w as hi
            from (
              select i.school_id, i.student_id, i.id as invoice_id, i.total_minor as total,
                     i.paid_minor - i.refunded_minor as net, i.total_minor - i.paid_minor + i.refunded_minor as balance,
                     coalesce(l.fee_head, '') collate "C" as fee_head, sum(l.amount_minor)::numeric as amount
                from invoices i join invoice_lines l on l.invoice_id = i.id
               where i.voided_at is null and i.total_minor > 0
               group by i.school_id, i.student_id, i.id, 7
            ) heads
          window w as (partition by student_id, invoice_id order by fee_head rows between unbounded preceding and current row)
        ) h
       group by h.school_id, h.student_id, h.fee_head;

    create table student_fee_heads (
      student_id uuid not null references students (id) on delete cascade,
      fee_head text collate "C" not null,
      school_id uuid not null,
      invoiced_minor bigint not null,
      collected_minor bigint not null,
      outstanding_minor bigint not null,
      primary key (student_id, fee_head)
    );
    create index student_fee_heads_school_idx on student_fee_heads (school_id)
      include (fee_head, invoiced_minor, collected_minor, outstanding_minor);

    insert into student_fee_heads (student_id, fee_head, school_id, invoiced_minor, collected_minor, outstanding_minor)
      select student_id, fee_head, school_id, invoiced_minor, collected_minor, outstanding_minor
        from student_fee_head_totals;
  `.execute(db);
}
