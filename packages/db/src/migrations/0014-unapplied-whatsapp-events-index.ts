import { type Kysely, sql } from 'kysely';

// A send whose outcome is unknown (its worker died in the provider call, or
// the call got no answer) looks, before it calls again, for a webhook naming
// it that is stored but not applied yet: the apply job may have been cut off
// by the same crash. Only webhooks still `received` matter, a handful at any
// time against the millions applied, so the index holds only those, by when
// they came.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create index whatsapp_events_received_idx on whatsapp_events (received_at) where status = 'received'
  `.execute(db);
}
