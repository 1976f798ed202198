import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

/** Ids of schools that are not deleted: a deleted school's templates and campaigns are gone for every reader. */
export function liveSchoolIds(db: Db) {
  return db.selectFrom('schools').select('schools.id').where('schools.deletedAt', 'is', null);
}

/**
 * Locks a live school for the rest of the transaction: `share` while adding
 * rows under it (a concurrent delete waits), `update` to change its settings.
 */
export function lockSchool(db: Db, id: string, mode: 'share' | 'update') {
  const query = db
    .selectFrom('schools')
    .select(['schools.id'])
    .where('schools.id', '=', id)
    .where('schools.deletedAt', 'is', null);
  return (mode === 'update' ? query.forUpdate() : query.forShare()).executeTakeFirst();
}
