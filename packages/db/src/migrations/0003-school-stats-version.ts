import { type Kysely, sql } from 'kysely';

// school_stats.version moves whenever any of a school's students changes:
// created, edited, removed, or their running totals recomputed by the ledger
// (every money change ends with that). A school's statement summary (totals,
// aging, counts) can then be cached and served only while the version it was
// computed at is still current: exact, never stale. The counter lives in its
// own table, not on schools, so it never contends with the share locks that
// writes under a school take on the school row.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table school_stats (
      school_id uuid primary key references schools (id),
      version bigint not null
    );

    create function bump_school_stats_version() returns trigger language plpgsql as $$
    begin
      insert into school_stats (school_id, version)
        values (coalesce(new.school_id, old.school_id), 1)
        on conflict (school_id) do update set version = school_stats.version + 1;
      return null;
    end $$;

    create trigger students_bump_school_stats_version
      after insert or update or delete on students
      for each row execute function bump_school_stats_version();
  `.execute(db);
}
