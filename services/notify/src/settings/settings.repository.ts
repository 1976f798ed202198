import type { Kysely, Transaction, Updateable } from 'kysely';
import type { DB, Schools } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

const COLUMNS = [
  'schools.id',
  'schools.quietHoursStart',
  'schools.quietHoursEnd',
  'schools.reminderOffsets',
  'schools.optOutKeywords',
  'schools.optInKeywords',
] as const;

export type SettingsRow = NonNullable<Awaited<ReturnType<typeof findSettings>>>;

/** A live school's messaging settings; `lock` takes the school FOR UPDATE (a change reads, then writes). */
export function findSettings(db: Db, schoolId: string, lock = false) {
  const query = db
    .selectFrom('schools')
    .select(COLUMNS)
    .where('schools.id', '=', schoolId)
    .where('schools.deletedAt', 'is', null);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

export type SettingsValues = Pick<
  Updateable<Schools>,
  'quietHoursStart' | 'quietHoursEnd' | 'reminderOffsets' | 'optOutKeywords' | 'optInKeywords'
>;

export function updateSettings(db: Db, schoolId: string, values: SettingsValues) {
  return db
    .updateTable('schools')
    .set(values)
    .where('id', '=', schoolId)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}
