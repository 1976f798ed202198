import { type Kysely, sql } from 'kysely';

// Invoice and receipt PDFs (see docs/decisions/0010-documents.md).
//
// documents: every rendered version of an invoice's or a payment's PDF. The
// file lives in object storage under storage_key; the row says which version
// is current (the highest), what it was rendered from (content_hash of the
// document model, so a re-render that would change nothing is skipped) and
// what the invoice looked like then (status, balance), so a read can tell a
// stale one. Older versions are kept: a new one replaces them only once it is
// stored.
//
// pdf_batches / pdf_batch_items: a bulk render. The items are fixed when the
// batch is made (one per invoice, in order); each moves once from pending to
// done (with the document version rendered for the batch) or failed (with
// why), and the batch's counters move in the same transaction, so they are
// exact and a job that runs twice cannot count twice. The zip is built from
// the items, so it holds each invoice once.
//
// schools.logo_updated_at: set when the school uploads a logo (stored in
// object storage under a key derived from the school id); null when none.
//
// Re-renders are requested by triggers, not by each code path that moves
// money: any change to what an invoice or payment document shows (a
// payment, a credit applied, a refund, a void, new lines or dates), by any
// writer, writes an outbox row in the same transaction. The job's name,
// queue, version and options here must equal the job catalog's
// (`invoice-pdf.render`, `receipt-pdf.render`); a test holds them together.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table schools add column logo_updated_at timestamptz;

    create table documents (
      id bigint generated always as identity primary key,
      kind text not null check (kind in ('invoice', 'receipt')),
      subject_id uuid not null,
      school_id uuid not null references schools (id),
      version integer not null check (version > 0),
      content_hash text not null,
      storage_key text not null,
      byte_size integer not null,
      pages integer not null,
      status text,
      balance_minor bigint,
      created_at timestamptz not null default now(),
      unique (kind, subject_id, version)
    );
    create index documents_school_idx on documents (school_id);

    create table pdf_batches (
      id uuid primary key default gen_random_uuid(),
      school_id uuid not null references schools (id),
      requested_by uuid references users (id),
      selector jsonb not null,
      status text not null default 'running' check (status in ('running', 'completed')),
      total integer not null check (total > 0),
      done integer not null default 0,
      failed integer not null default 0,
      created_at timestamptz not null default now(),
      finished_at timestamptz,
      check (done + failed <= total)
    );
    create index pdf_batches_school_idx on pdf_batches (school_id, created_at desc);

    create table pdf_batch_items (
      batch_id uuid not null references pdf_batches (id) on delete cascade,
      position integer not null,
      invoice_id uuid not null,
      invoice_number text not null,
      status text not null default 'pending' check (status in ('pending', 'done', 'failed')),
      document_id bigint references documents (id),
      error text,
      finished_at timestamptz,
      primary key (batch_id, position),
      unique (batch_id, invoice_id)
    );

    create function enqueue_document_render(job_name text, payload jsonb, job_id text) returns void
    language plpgsql as $$
    begin
      insert into outbox (job_name, queue, job_id, version, payload, trace, options)
      values (
        job_name, 'invoice-pdf', job_id, 1, payload, '{}',
        '{"attempts": 8, "backoff": {"type": "exponential", "delay": 5000},
          "removeOnComplete": {"age": 86400, "count": 5000}, "removeOnFail": {"age": 604800}}'
      );
    end $$;

    -- One render per invoice per transaction however many statements touch it:
    -- the job id names the transaction, and the relay adds an id once.
    create function invoices_request_render() returns trigger language plpgsql as $$
    begin
      perform enqueue_document_render(
        'invoice-pdf.render',
        jsonb_build_object('invoiceId', new.id, 'schoolId', new.school_id, 'revision', 'tx' || txid_current()),
        'invoice-pdf.render.' || new.id || '.tx' || txid_current()
      );
      return null;
    end $$;

    create trigger invoices_render_on_insert after insert on invoices
      for each row execute function invoices_request_render();
    create trigger invoices_render_on_change after update on invoices
      for each row
      when ((old.paid_minor, old.refunded_minor, old.total_minor, old.voided_at, old.void_reason,
             old.due_date, old.issue_date, old.notes, old.number)
            is distinct from
            (new.paid_minor, new.refunded_minor, new.total_minor, new.voided_at, new.void_reason,
             new.due_date, new.issue_date, new.notes, new.number))
      execute function invoices_request_render();

    create function payments_request_receipt() returns trigger language plpgsql as $$
    begin
      perform enqueue_document_render(
        'receipt-pdf.render',
        jsonb_build_object('paymentId', new.id, 'schoolId', new.school_id, 'revision', 'tx' || txid_current()),
        'receipt-pdf.render.' || new.id || '.tx' || txid_current()
      );
      return null;
    end $$;

    create trigger payments_receipt_on_insert after insert on payments
      for each row execute function payments_request_receipt();
    create trigger payments_receipt_on_refund after update on payments
      for each row when (old.refunded_minor is distinct from new.refunded_minor)
      execute function payments_request_receipt();
  `.execute(db);
}
