import { type Kysely, sql } from 'kysely';

// KPI reports and point-in-time balances (see docs/decisions/0012-reports.md).
//
// allocations.effective_at: when the money a row moves counted, as opposed to
// when the row was written. A payment's allocation counts from the payment's
// paid_at (a cheque entered on Monday for Friday counts on Friday); a credit
// move, a refund and a void count from the moment they were made. Balances as
// of a past instant are then exact: an invoice's balance at T is its total
// less the allocations effective before T (zero if it was void by then).
// Existing rows are given the same rule.
//
// reports: one computed report (its parameters, status, progress, result or
// error). dedupe_key is a hash of the kind, the school, the resolved
// parameters and the school's money version (school_stats.version): a second
// identical request while one is queued, running or still fresh (nothing
// moved since) finds the first; a failed one no longer holds the key.
//
// report_schedules: a report to compute on a cron, in the school's time
// zone. The rows are the truth; the worker keeps BullMQ's job schedulers in
// step with them (also after Redis comes back empty).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table allocations add column effective_at timestamptz;
    update allocations a set effective_at = case when a.kind = 'payment' then p.paid_at else a.created_at end
      from payments p where p.id = a.payment_id;
    alter table allocations alter column effective_at set not null,
      alter column effective_at set default now();
    create index allocations_school_effective_idx on allocations (school_id, effective_at)
      include (invoice_id, amount_minor);
    create index payments_school_paid_idx on payments (school_id, paid_at)
      include (amount_minor, invoice_id);
    create index refunds_school_created_idx on refunds (school_id, created_at)
      include (amount_minor);

    create table report_schedules (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      kind text not null,
      params jsonb not null,
      cron text not null,
      created_by uuid references users (id),
      created_at timestamptz not null default now()
    );
    create index report_schedules_school_idx on report_schedules (school_id, created_at);

    create table reports (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      kind text not null,
      params jsonb not null,
      dedupe_key text not null,
      money_version bigint not null,
      status text not null default 'queued'
        check (status in ('queued', 'running', 'succeeded', 'failed')),
      progress integer not null default 0 check (progress between 0 and 100),
      result jsonb,
      error text,
      requested_by uuid references users (id),
      schedule_id uuid references report_schedules (id) on delete set null,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz
    );
    create unique index reports_dedupe_key on reports (dedupe_key) where status <> 'failed';
    create index reports_school_idx on reports (school_id, created_at desc, id);
  `.execute(db);
}
