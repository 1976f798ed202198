import { type Kysely, sql } from 'kysely';

// WhatsApp messaging (see docs/decisions/0011-whatsapp.md).
//
// schools gain their messaging settings: quiet hours in the school's time
// zone (both null: none), the reminder schedule as day offsets from the due
// date (-3 = three days before), and local opt-out / opt-in words beside
// STOP / START.
//
// whatsapp_templates: a school's message templates, `{{1}}`…`{{n}}` in the
// body; `purpose` marks the one a transactional message uses (at most one
// live template per purpose and school).
//
// whatsapp_campaigns: a named send of one template to an audience, resolved
// once at launch into whatsapp_messages rows (one per guardian: unique
// (campaign_id, guardian_id)).
//
// whatsapp_messages: every message Bursar means to send, campaign or
// transactional, with `dedupe_key` unique so a job that runs twice never
// makes a second message. The status only moves forward; `attempted_at` is
// written (and committed) before the provider is called, so a worker that
// dies mid-call leaves a message that is reconciled through the provider's
// status webhooks (which carry the message id back) instead of sent again.
//
// whatsapp_opt_outs: per phone number and business number (schools sending
// from one WhatsApp number share their guardians' opt-outs), the latest
// choice.
//
// whatsapp_events: the webhook inbox, like provider_events for payments:
// stored byte-exact, deduplicated by a hash of the body, applied once by the
// worker.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table schools
      add column quiet_hours_start time,
      add column quiet_hours_end time,
      add column reminder_offsets integer[] not null default '{-3,0,7,14}',
      add column opt_out_keywords text[] not null default '{}',
      add column opt_in_keywords text[] not null default '{}',
      add constraint schools_quiet_hours_both check ((quiet_hours_start is null) = (quiet_hours_end is null));

    create table whatsapp_templates (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      name text not null check (name ~ '^[a-z0-9_]+$' and char_length(name) <= 512),
      language text not null,
      category text not null check (category in ('utility', 'marketing', 'authentication')),
      body text not null,
      param_count integer not null check (param_count between 0 and 20),
      header text not null default 'none' check (header in ('none', 'document')),
      purpose text check (purpose in ('invoice', 'receipt', 'reminder', 'absence')),
      status text not null default 'draft'
        check (status in ('draft', 'submitted', 'approved', 'rejected', 'paused')),
      provider_template_id text,
      status_reason text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (school_id, name, language),
      unique (id, school_id)
    );
    create unique index whatsapp_templates_purpose_key on whatsapp_templates (school_id, purpose)
      where purpose is not null and status <> 'rejected';

    create table whatsapp_campaigns (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      name text not null,
      template_id uuid not null,
      params jsonb not null,
      audience jsonb not null,
      status text not null default 'draft'
        check (status in ('draft', 'scheduled', 'launching', 'running', 'paused', 'completed', 'cancelled')),
      scheduled_at timestamptz,
      -- Bumped by each resume: the sends queued again get new job ids.
      round integer not null default 0,
      launched_at timestamptz,
      finished_at timestamptz,
      created_by uuid references users (id),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (id, school_id),
      foreign key (template_id, school_id) references whatsapp_templates (id, school_id)
    );
    create index whatsapp_campaigns_school_idx on whatsapp_campaigns (school_id, created_at desc);

    create table whatsapp_messages (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      purpose text not null check (purpose in ('campaign', 'invoice', 'receipt', 'reminder', 'absence', 'reply')),
      campaign_id uuid references whatsapp_campaigns (id),
      guardian_id uuid,
      invoice_id uuid,
      payment_id uuid,
      phone text not null,
      template_id uuid references whatsapp_templates (id),
      params jsonb not null default '[]',
      text text,
      document jsonb,
      dedupe_key text not null unique,
      status text not null default 'queued'
        check (status in ('excluded', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled')),
      reason text,
      provider text,
      provider_message_id text,
      error_code text,
      error_title text,
      attempts integer not null default 0,
      created_at timestamptz not null default now(),
      attempted_at timestamptz,
      sent_at timestamptz,
      delivered_at timestamptz,
      read_at timestamptz,
      failed_at timestamptz,
      unique (campaign_id, guardian_id)
    );
    create unique index whatsapp_messages_provider_key on whatsapp_messages (provider, provider_message_id)
      where provider_message_id is not null;
    create index whatsapp_messages_campaign_idx on whatsapp_messages (campaign_id, status) where campaign_id is not null;
    create index whatsapp_messages_invoice_idx on whatsapp_messages (invoice_id) where invoice_id is not null;

    create table whatsapp_opt_outs (
      business_number text not null,
      phone text not null,
      opted_out boolean not null,
      keyword text,
      changed_at timestamptz not null default now(),
      primary key (business_number, phone)
    );

    create table whatsapp_events (
      id uuid primary key default gen_random_uuid(),
      provider text not null check (provider in ('meta', 'gupshup')),
      body bytea not null,
      body_hash text not null,
      status text not null default 'received' check (status in ('received', 'processed', 'unreadable')),
      detail text,
      received_at timestamptz not null default now(),
      processed_at timestamptz,
      unique (provider, body_hash)
    );
  `.execute(db);
}
