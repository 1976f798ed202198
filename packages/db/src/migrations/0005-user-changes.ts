import { type Kysely, sql } from 'kysely';

// Every process caches each user's role, school and status so that a request
// does not pay a query to learn whether its caller is still allowed in. A
// change to a user row (disabled, demoted, moved, deleted) is announced on the
// `bursar_user_changed` channel; NOTIFY is delivered only when the change
// commits, so a listener never forgets a user for a change that rolled back.
// Announcing from a trigger covers every writer, a hand-run UPDATE included.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function notify_user_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('bursar_user_changed', coalesce(new.id, old.id)::text);
      return null;
    end $$;

    create trigger users_notify_changed
      after update or delete on users
      for each row execute function notify_user_changed();
  `.execute(db);
}
