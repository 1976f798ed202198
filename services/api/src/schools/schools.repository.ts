import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { DB, Schools } from '@bursar/db';
import { sortOrder, type ListSchoolsQuery } from '@bursar/contracts';
import { containsPattern } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const COLUMNS = [
  'schools.id',
  'schools.name',
  'schools.currency',
  'schools.timezone',
  'schools.locale',
  'schools.address',
  'schools.contactEmail',
  'schools.contactPhone',
  'schools.createdAt',
  'schools.updatedAt',
] as const;

export type SchoolRow = NonNullable<Awaited<ReturnType<typeof findSchool>>>;

const SORT_COLUMNS = { name: 'schools.name', createdAt: 'schools.createdAt' } as const;

/**
 * A live (not deleted) school within `scope` (a school id, or null for every
 * school). The scope is part of the query, so another school's id finds nothing.
 */
export function findSchool(db: Db, scope: string | null, id: string) {
  let query = db
    .selectFrom('schools')
    .select(COLUMNS)
    .where('schools.id', '=', id)
    .where('schools.deletedAt', 'is', null);
  if (scope) query = query.where('schools.id', '=', scope);
  return query.executeTakeFirst();
}

/**
 * Locks a live school row for the rest of the transaction. `update` for changes
 * to the school itself; `share` while adding rows under it, so a concurrent
 * delete (which checks the school is empty) waits instead of missing them.
 */
export function lockSchool(db: Db, scope: string | null, id: string, mode: 'update' | 'share') {
  let query = db
    .selectFrom('schools')
    .select(COLUMNS)
    .where('schools.id', '=', id)
    .where('schools.deletedAt', 'is', null);
  if (scope) query = query.where('schools.id', '=', scope);
  return (mode === 'update' ? query.forUpdate() : query.forShare()).executeTakeFirst();
}

export async function listSchools(db: Db, scope: string | null, query: ListSchoolsQuery) {
  let base = db.selectFrom('schools').where('schools.deletedAt', 'is', null);
  if (scope) base = base.where('schools.id', '=', scope);
  if (query.q) base = base.where('schools.name', 'ilike', containsPattern(query.q));
  const { field, direction } = sortOrder(query.sort);
  const [rows, count] = await Promise.all([
    base
      .select(COLUMNS)
      .orderBy(SORT_COLUMNS[field], direction)
      .orderBy('schools.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertSchool(db: Db, values: Insertable<Schools>) {
  return db.insertInto('schools').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

export function updateSchool(db: Db, id: string, values: Updateable<Schools>) {
  return db
    .updateTable('schools')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function softDeleteSchool(db: Db, id: string): Promise<void> {
  await db
    .updateTable('schools')
    .set({ deletedAt: sql`now()`, updatedAt: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** Active students of a school, counted in SQL. */
export async function countActiveStudents(db: Db, schoolId: string): Promise<number> {
  const row = await db
    .selectFrom('students')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('schoolId', '=', schoolId)
    .where('status', '=', 'active')
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function schoolHasStudents(db: Db, schoolId: string): Promise<boolean> {
  const row = await db
    .selectFrom('students')
    .select(sql<number>`1`.as('one'))
    .where('schoolId', '=', schoolId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Any invoice at all, voided ones included: their amounts are in the school's currency. */
export async function schoolHasInvoices(db: Db, schoolId: string): Promise<boolean> {
  const row = await db
    .selectFrom('invoices')
    .select(sql<number>`1`.as('one'))
    .where('schoolId', '=', schoolId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Ids of schools that are not deleted, as a subquery: a deleted school's
 * classes, students and guardians are 404 along with it.
 */
export function liveSchoolIds(db: Db) {
  return db.selectFrom('schools').select('schools.id').where('schools.deletedAt', 'is', null);
}

/** The id of the only school that is not deleted, when there is exactly one. */
export async function onlySchoolId(db: Db): Promise<string | undefined> {
  const rows = await db.selectFrom('schools').select('id').where('deletedAt', 'is', null).limit(2).execute();
  return rows.length === 1 ? rows[0]!.id : undefined;
}
