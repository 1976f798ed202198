import { type Kysely, sql } from 'kysely';

// Online payments (Razorpay, Stripe).
//
// payment_links: a link or checkout session Bursar asked a provider for, for
// one invoice's balance at the time; events are matched to invoices by the
// ids in their notes/metadata or else by the provider's reference stored here.
// At most one open link per invoice, provider and amount: asking again while
// one is open returns it.
//
// provider_events: the inbox. Every verified webhook is stored byte-exact,
// with its headers, before anything acts on it; (provider, event_id) is
// unique, so a redelivery is recognised and answered without doing anything.
// The worker moves a row from `received` to what became of it.
//
// reconciliation_items: provider money Bursar could not put on an invoice by
// itself (unknown invoice, wrong currency, amount out of range, another
// school than the notes say, no ids at all). Never dropped, never in the
// ledger until a person matches it to an invoice or dismisses it with a
// reason. school_id is null when nothing says which school it is: then only
// platform admins see it.
//
// refunds gain the provider's refund id, unique per provider, so a refund
// event applies once however often it is delivered.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table payment_links (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      invoice_id uuid not null,
      provider text not null check (provider in ('razorpay', 'stripe')),
      provider_reference text not null,
      url text not null,
      amount_minor bigint not null check (amount_minor > 0),
      currency char(3) not null,
      status text not null default 'open' check (status in ('open', 'paid', 'expired', 'cancelled')),
      expires_at timestamptz not null,
      created_by uuid references users (id),
      created_at timestamptz not null default now(),
      paid_at timestamptz,
      unique (provider, provider_reference),
      foreign key (invoice_id, school_id) references invoices (id, school_id)
    );
    create index payment_links_invoice_idx on payment_links (invoice_id, provider, status);

    create table provider_events (
      id uuid primary key default gen_random_uuid(),
      provider text not null check (provider in ('razorpay', 'stripe')),
      event_id text not null check (event_id <> ''),
      event_type text not null,
      headers jsonb not null,
      body bytea not null,
      received_at timestamptz not null default now(),
      status text not null default 'received' check (status in (
        'received', 'applied', 'duplicate', 'refunded', 'recorded', 'ignored', 'reconciliation'
      )),
      processed_at timestamptz,
      detail text,
      school_id uuid references schools (id),
      invoice_id uuid,
      payment_id uuid references payments (id),
      provider_payment_id text,
      unique (provider, event_id)
    );
    create index provider_events_payment_idx on provider_events (payment_id) where payment_id is not null;
    create index provider_events_provider_payment_idx on provider_events (provider, provider_payment_id)
      where provider_payment_id is not null;

    create table reconciliation_items (
      id uuid primary key default gen_random_uuid(),
      school_id uuid references schools (id),
      event_id uuid not null unique references provider_events (id),
      provider text not null,
      provider_payment_id text not null,
      amount_minor bigint not null,
      currency char(3) not null,
      reason text not null check (reason in (
        'unknown_invoice', 'school_mismatch', 'currency_mismatch', 'amount_out_of_range',
        'no_reference', 'invoice_void'
      )),
      detail text not null,
      status text not null default 'open' check (status in ('open', 'matched', 'dismissed')),
      matched_invoice_id uuid,
      payment_id uuid references payments (id),
      dismiss_reason text,
      resolved_by uuid references users (id),
      resolved_at timestamptz,
      created_at timestamptz not null default now(),
      check ((status = 'open') = (resolved_at is null)),
      check (status <> 'dismissed' or dismiss_reason is not null)
    );
    create index reconciliation_items_school_idx on reconciliation_items (school_id, status, created_at);
    create index reconciliation_items_payment_idx on reconciliation_items (provider, provider_payment_id);

    alter table refunds
      add column provider text,
      add column provider_refund_id text;
    create unique index refunds_provider_key on refunds (provider, provider_refund_id)
      where provider is not null;
  `.execute(db);
}
