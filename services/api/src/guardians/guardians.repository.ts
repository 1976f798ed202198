import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { DB, Guardians } from '@bursar/db';
import { sortOrder, type ListGuardiansQuery } from '@bursar/contracts';
import { liveSchoolIds } from '../schools/schools.repository.js';
import { containsPattern } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const COLUMNS = [
  'guardians.id',
  'guardians.schoolId',
  'guardians.name',
  'guardians.phone',
  'guardians.whatsappOptIn',
  'guardians.preferredLanguage',
  'guardians.createdAt',
  'guardians.updatedAt',
] as const;

const LINK_COLUMNS = [
  'studentGuardians.studentId',
  'studentGuardians.guardianId',
  'studentGuardians.relation',
  'studentGuardians.isPrimaryPayer',
  'studentGuardians.createdAt',
] as const;

const SORT_COLUMNS = { name: 'guardians.name', createdAt: 'guardians.createdAt' } as const;

export type GuardianRow = Awaited<ReturnType<typeof insertGuardian>>;
export type LinkRow = NonNullable<Awaited<ReturnType<typeof findLink>>>;

/** A guardian of a live school within `scope` (null: any school); `lock` takes the row FOR UPDATE. */
export function findGuardian(db: Db, scope: string | null, id: string, lock = false) {
  let query = db
    .selectFrom('guardians')
    .select(COLUMNS)
    .where('guardians.id', '=', id)
    .where('guardians.schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('guardians.schoolId', '=', scope);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

export async function listGuardians(db: Db, scope: string | null, query: ListGuardiansQuery) {
  let base = db.selectFrom('guardians').where('guardians.schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('guardians.schoolId', '=', scope);
  if (query.whatsappOptIn !== undefined)
    base = base.where('guardians.whatsappOptIn', '=', query.whatsappOptIn);
  if (query.studentId) {
    const studentId = query.studentId;
    base = base.where((eb) =>
      eb.exists(
        eb
          .selectFrom('studentGuardians')
          .select(sql<number>`1`.as('one'))
          .whereRef('studentGuardians.guardianId', '=', 'guardians.id')
          .where('studentGuardians.studentId', '=', studentId),
      ),
    );
  }
  if (query.q) {
    const pattern = containsPattern(query.q);
    base = base.where((eb) =>
      eb.or([eb('guardians.name', 'ilike', pattern), eb('guardians.phone', 'ilike', pattern)]),
    );
  }
  const { field, direction } = sortOrder(query.sort);
  const [rows, count] = await Promise.all([
    base
      .select(COLUMNS)
      .orderBy(SORT_COLUMNS[field], direction)
      .orderBy('guardians.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertGuardian(db: Db, values: Insertable<Guardians>) {
  return db.insertInto('guardians').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

export function updateGuardian(db: Db, id: string, values: Updateable<Guardians>) {
  return db
    .updateTable('guardians')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteGuardian(db: Db, id: string): Promise<void> {
  await db.deleteFrom('guardians').where('id', '=', id).execute();
}

/** The guardian's students with the link's relation. */
export function listGuardianStudents(db: Db, guardianId: string) {
  return db
    .selectFrom('studentGuardians')
    .innerJoin('students', 'students.id', 'studentGuardians.studentId')
    .select([
      'students.id',
      'students.firstName',
      'students.lastName',
      'students.admissionNo',
      'students.classId',
      'students.status',
      'studentGuardians.relation',
      'studentGuardians.isPrimaryPayer',
    ])
    .where('studentGuardians.guardianId', '=', guardianId)
    .orderBy('students.lastName')
    .orderBy('students.firstName')
    .orderBy('students.id')
    .execute();
}

export function findLink(db: Db, studentId: string, guardianId: string) {
  return db
    .selectFrom('studentGuardians')
    .select(LINK_COLUMNS)
    .where('studentId', '=', studentId)
    .where('guardianId', '=', guardianId)
    .executeTakeFirst();
}

/** Links a guardian to a student, or updates the link's relation and payer flag. */
export function upsertLink(
  db: Db,
  link: {
    schoolId: string;
    studentId: string;
    guardianId: string;
    relation: string;
    isPrimaryPayer: boolean;
  },
) {
  return db
    .insertInto('studentGuardians')
    .values(link)
    .onConflict((oc) =>
      oc.columns(['studentId', 'guardianId']).doUpdateSet({
        relation: link.relation,
        isPrimaryPayer: link.isPrimaryPayer,
      }),
    )
    .returning(LINK_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Makes every other guardian of the student not the primary payer; returns the links it changed (as they were). */
export async function clearOtherPrimaryPayers(
  db: Db,
  studentId: string,
  keepGuardianId: string,
): Promise<LinkRow[]> {
  const rows = await db
    .updateTable('studentGuardians')
    .set({ isPrimaryPayer: false })
    .where('studentId', '=', studentId)
    .where('guardianId', '<>', keepGuardianId)
    .where('isPrimaryPayer', '=', true)
    .returning(LINK_COLUMNS)
    .execute();
  return rows.map((row) => ({ ...row, isPrimaryPayer: true }));
}

export async function deleteLink(db: Db, studentId: string, guardianId: string): Promise<void> {
  await db
    .deleteFrom('studentGuardians')
    .where('studentId', '=', studentId)
    .where('guardianId', '=', guardianId)
    .execute();
}
