import { type Kysely, sql } from 'kysely';

// The transactional outbox: a job is a row written in the same transaction as
// the change that causes it, so a committed change never loses its job while
// Redis is away. The relay hands rows to BullMQ after commit and a sweeper
// picks up whatever is left (see docs/decisions/0007-outbox.md).
//
// A row moves: written (relayed_at null) -> relayed (in Redis, under
// redis_epoch, the marker the relay found there) -> completed or failed (the
// job finished), and is deleted after a retention period. Partial indexes keep
// each of the relay's scans to the rows in that state only.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table outbox (
      id bigint generated always as identity primary key,
      job_name text not null,
      queue text not null,
      job_id text not null check (job_id <> '' and position(':' in job_id) = 0),
      version integer not null,
      payload jsonb not null,
      trace jsonb not null default '{}',
      options jsonb not null,
      created_at timestamptz not null default now(),
      relayed_at timestamptz,
      redis_epoch text,
      checked_at timestamptz,
      completed_at timestamptz,
      failed_at timestamptz,
      relay_attempts integer not null default 0,
      last_error text
    );

    create index outbox_unrelayed on outbox (id) where relayed_at is null;
    create index outbox_in_flight on outbox (relayed_at)
      where relayed_at is not null and completed_at is null and failed_at is null;
    create index outbox_completed on outbox (completed_at) where completed_at is not null;
    create index outbox_failed on outbox (failed_at) where failed_at is not null;
  `.execute(db);
}
