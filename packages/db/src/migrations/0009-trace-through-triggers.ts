import { type Kysely, sql } from 'kysely';

// The render jobs the invoice and payment triggers write (0007) carried no
// trace context, so a payment's trace ended at the ledger: the receipt's PDF
// and the WhatsApp message after it started traces of their own. The
// application now puts its trace context on the transaction
// (`set_config('bursar.trace', <W3C carrier as JSON>, true)`, see
// `stampTrace`) before it moves money; the triggers copy it into the outbox
// row, so the render job, and what it enqueues, join the trace that caused
// them. A transaction that set none (a hand-run UPDATE) writes '{}' as before,
// and a value that is not JSON is ignored rather than failing the money write.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function enqueue_document_render(job_name text, payload jsonb, job_id text) returns void
    language plpgsql as $$
    declare
      carrier jsonb := '{}';
    begin
      begin
        carrier := coalesce(nullif(current_setting('bursar.trace', true), '')::jsonb, '{}');
      exception when others then
        carrier := '{}';
      end;
      if jsonb_typeof(carrier) <> 'object' then
        carrier := '{}';
      end if;
      insert into outbox (job_name, queue, job_id, version, payload, trace, options)
      values (
        job_name, 'invoice-pdf', job_id, 1, payload, carrier,
        '{"attempts": 8, "backoff": {"type": "exponential", "delay": 5000},
          "removeOnComplete": {"age": 86400, "count": 5000}, "removeOnFail": {"age": 604800}}'
      );
    end $$;
  `.execute(db);
}
