import { type Kysely, sql } from 'kysely';

// Money is bigint minor units everywhere; the currency is the school's.
// invoices.paid_minor / refunded_minor and students.credit_minor are running
// totals kept in the same transaction as the rows they sum (under a lock on
// the student), so statements read them instead of re-summing a million
// payments; a test recomputes them from the rows.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table refresh_tokens (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      family_id uuid not null,
      token_hash text not null unique,
      expires_at timestamptz not null,
      used_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz not null default now()
    );
    create index refresh_tokens_family_idx on refresh_tokens (family_id);

    -- A student's account in running totals (see packages/ledger/src/credit.ts
    -- settleStudent): what statements and the school's per-student breakdown read.
    alter table students
      add column credit_minor bigint not null default 0 check (credit_minor >= 0),
      add column invoiced_minor bigint not null default 0,
      add column paid_minor bigint not null default 0,
      add column refunded_minor bigint not null default 0,
      add column balance_minor bigint not null default 0 check (balance_minor >= 0);
    create index students_school_balance_idx on students (school_id, balance_minor desc, last_name, first_name, id);

    create table fee_plans (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      name text not null,
      academic_year text not null,
      sibling_discount_bps integer not null default 0 check (sibling_discount_bps between 0 and 10000),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (id, school_id),
      unique (school_id, academic_year, name)
    );

    create table fee_plan_heads (
      id uuid primary key default gen_random_uuid(),
      fee_plan_id uuid not null references fee_plans (id) on delete cascade,
      position integer not null,
      name text not null,
      amount_minor bigint not null check (amount_minor > 0),
      unique (fee_plan_id, position)
    );

    create table fee_plan_instalments (
      id uuid primary key default gen_random_uuid(),
      fee_plan_id uuid not null references fee_plans (id) on delete cascade,
      position integer not null,
      label text not null,
      due_date date not null,
      share_bps integer not null check (share_bps > 0 and share_bps <= 10000),
      unique (fee_plan_id, position)
    );

    create table invoice_counters (
      school_id uuid not null references schools (id),
      year integer not null,
      last_value integer not null,
      primary key (school_id, year)
    );

    create table invoices (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      student_id uuid not null,
      number text not null,
      currency char(3) not null,
      issue_date date not null,
      due_date date not null,
      notes text,
      total_minor bigint not null check (total_minor >= 0),
      paid_minor bigint not null default 0,
      refunded_minor bigint not null default 0,
      fee_plan_id uuid,
      instalment_id uuid references fee_plan_instalments (id),
      voided_at timestamptz,
      void_reason text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (id, school_id),
      unique (school_id, number),
      foreign key (student_id, school_id) references students (id, school_id),
      foreign key (fee_plan_id, school_id) references fee_plans (id, school_id),
      -- Money applied to an invoice never exceeds what it asks for; the excess is credit.
      check (paid_minor - refunded_minor between 0 and total_minor)
    );
    -- Issuing a plan twice creates nothing new: one invoice per student per instalment.
    create unique index invoices_student_instalment_key on invoices (student_id, instalment_id)
      where instalment_id is not null;
    create index invoices_student_due_idx on invoices (student_id, due_date);
    -- Aging reads only open invoices; the partial index keeps that to the unpaid few.
    create index invoices_school_open_idx on invoices (school_id, due_date)
      include (total_minor, paid_minor, refunded_minor)
      where voided_at is null and total_minor - paid_minor + refunded_minor > 0;

    create table invoice_lines (
      id uuid primary key default gen_random_uuid(),
      invoice_id uuid not null references invoices (id) on delete cascade,
      position integer not null,
      description text not null,
      fee_head text,
      quantity integer not null check (quantity > 0),
      unit_amount_minor bigint not null,
      amount_minor bigint not null,
      unique (invoice_id, position)
    );

    create table payments (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      student_id uuid not null,
      invoice_id uuid not null,
      amount_minor bigint not null check (amount_minor > 0),
      refunded_minor bigint not null default 0 check (refunded_minor >= 0),
      currency char(3) not null,
      method text not null check (method in ('cash', 'bank_transfer', 'upi', 'card', 'cheque', 'online')),
      reference text,
      paid_at timestamptz not null,
      provider text,
      provider_payment_id text,
      created_by uuid references users (id),
      created_at timestamptz not null default now(),
      unique (id, school_id),
      foreign key (student_id, school_id) references students (id, school_id),
      foreign key (invoice_id, school_id) references invoices (id, school_id),
      check (refunded_minor <= amount_minor)
    );
    create index payments_invoice_idx on payments (invoice_id);
    create index payments_student_idx on payments (student_id, paid_at);
    create unique index payments_provider_key on payments (provider, provider_payment_id)
      where provider is not null;

    -- Where each payment's money went: to an invoice (positive), back from one
    -- (negative, when an invoice is voided or a refund reverses it). What a
    -- payment has not allocated, net of refunds, is the student's credit.
    create table allocations (
      id bigint generated always as identity primary key,
      school_id uuid not null,
      payment_id uuid not null references payments (id),
      invoice_id uuid not null references invoices (id),
      amount_minor bigint not null check (amount_minor <> 0),
      kind text not null check (kind in ('payment', 'credit', 'void', 'refund')),
      created_at timestamptz not null default now()
    );
    create index allocations_payment_idx on allocations (payment_id);
    create index allocations_invoice_idx on allocations (invoice_id);

    create table refunds (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      payment_id uuid not null references payments (id),
      amount_minor bigint not null check (amount_minor > 0),
      -- How much of this refund came out of the student's credit; the rest
      -- reversed the payment's allocation to an invoice.
      from_credit_minor bigint not null check (from_credit_minor >= 0),
      reason text not null,
      created_by uuid references users (id),
      created_at timestamptz not null default now(),
      check (from_credit_minor <= amount_minor)
    );
    create index refunds_payment_idx on refunds (payment_id);

    create table idempotency_keys (
      school_id uuid not null,
      key text not null,
      scope text not null,
      request_hash text not null,
      response_status integer not null,
      response_body jsonb not null,
      created_at timestamptz not null default now(),
      primary key (school_id, scope, key)
    );

    create table audit_log (
      id bigint generated always as identity primary key,
      school_id uuid,
      actor_id uuid,
      actor_role text,
      action text not null,
      entity_type text not null,
      entity_id text not null,
      before jsonb,
      after jsonb,
      request_id text,
      created_at timestamptz not null default now()
    );
    create index audit_log_entity_idx on audit_log (entity_type, entity_id, id);
    create index audit_log_school_idx on audit_log (school_id, id);
    -- Append-only: the table refuses updates and deletes.
    create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only';
    end $$;
    create trigger audit_log_no_update before update or delete on audit_log
      for each row execute function audit_log_append_only();
  `.execute(db);
}
