import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

/**
 * A live school with what its statement needs: currency, time zone, and the
 * stats version that tells whether a cached summary is still exact (0 before
 * the school's first change).
 */
export function findStatementSchool(db: Db, schoolId: string) {
  return db
    .selectFrom('schools')
    .leftJoin('schoolStats', 'schoolStats.schoolId', 'schools.id')
    .select([
      'schools.id',
      'schools.currency',
      'schools.timezone',
      sql<bigint>`coalesce(school_stats.version, 0)`.as('statsVersion'),
    ])
    .where('schools.id', '=', schoolId)
    .where('schools.deletedAt', 'is', null)
    .executeTakeFirst();
}
