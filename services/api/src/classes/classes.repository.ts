import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { Classes, DB } from '@bursar/db';
import { sortOrder, type ListClassesQuery } from '@bursar/contracts';
import { liveSchoolIds } from '../schools/schools.repository.js';
import { containsPattern } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const COLUMNS = [
  'classes.id',
  'classes.schoolId',
  'classes.name',
  'classes.grade',
  'classes.section',
  'classes.academicYear',
  'classes.createdAt',
  'classes.updatedAt',
] as const;

const SORT_COLUMNS = {
  name: 'classes.name',
  grade: 'classes.grade',
  academicYear: 'classes.academicYear',
  createdAt: 'classes.createdAt',
} as const;

export type ClassRow = Awaited<ReturnType<typeof insertClass>>;

/** A class of a live school within `scope` (null: any school); `lock` takes it FOR UPDATE. */
export function findClass(db: Db, scope: string | null, id: string, lock = false) {
  let query = db
    .selectFrom('classes')
    .select(COLUMNS)
    .where('classes.id', '=', id)
    .where('classes.schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('classes.schoolId', '=', scope);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

export async function listClasses(db: Db, scope: string | null, query: ListClassesQuery) {
  let base = db.selectFrom('classes').where('classes.schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('classes.schoolId', '=', scope);
  if (query.academicYear) base = base.where('classes.academicYear', '=', query.academicYear);
  if (query.grade) base = base.where('classes.grade', '=', query.grade);
  if (query.q) base = base.where('classes.name', 'ilike', containsPattern(query.q));
  const { field, direction } = sortOrder(query.sort);
  const [rows, count] = await Promise.all([
    base
      .select(COLUMNS)
      .orderBy(SORT_COLUMNS[field], direction)
      .orderBy('classes.section')
      .orderBy('classes.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertClass(db: Db, values: Insertable<Classes>) {
  return db.insertInto('classes').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

export function updateClass(db: Db, id: string, values: Updateable<Classes>) {
  return db
    .updateTable('classes')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteClass(db: Db, id: string): Promise<void> {
  await db.deleteFrom('classes').where('id', '=', id).execute();
}

/** Whether any student (active or left) is still in the class. */
export async function classHasStudents(db: Db, id: string): Promise<boolean> {
  const row = await db
    .selectFrom('students')
    .select(sql<number>`1`.as('one'))
    .where('classId', '=', id)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
