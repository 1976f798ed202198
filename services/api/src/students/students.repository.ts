import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { DB, Students } from '@bursar/db';
import { sortOrder, type ListStudentsQuery } from '@bursar/contracts';
import { liveSchoolIds } from '../schools/schools.repository.js';
import { containsPattern } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const COLUMNS = [
  'students.id',
  'students.schoolId',
  'students.classId',
  'students.firstName',
  'students.lastName',
  'students.admissionNo',
  'students.status',
  'students.creditMinor',
  'students.createdAt',
  'students.updatedAt',
] as const;

/** Each sort field and the columns that break its ties, in order (the id last, for stable pages). */
const SORT_COLUMNS = {
  lastName: ['students.lastName', 'students.firstName'],
  firstName: ['students.firstName', 'students.lastName'],
  admissionNo: ['students.admissionNo'],
  createdAt: ['students.createdAt'],
} as const;

export type StudentRow = Awaited<ReturnType<typeof insertStudent>>;

/** A student of a live school within `scope` (null: any school); `lock` takes the row FOR UPDATE. */
export function findStudent(db: Db, scope: string | null, id: string, lock = false) {
  let query = db
    .selectFrom('students')
    .select(COLUMNS)
    .where('students.id', '=', id)
    .where('students.schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('students.schoolId', '=', scope);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

export async function listStudents(db: Db, scope: string | null, query: ListStudentsQuery) {
  let base = db.selectFrom('students').where('students.schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('students.schoolId', '=', scope);
  if (query.classId) base = base.where('students.classId', '=', query.classId);
  if (query.status) base = base.where('students.status', '=', query.status);
  if (query.q) {
    const pattern = containsPattern(query.q);
    base = base.where((eb) =>
      eb.or([
        eb('students.firstName', 'ilike', pattern),
        eb('students.lastName', 'ilike', pattern),
        eb('students.admissionNo', 'ilike', pattern),
        eb(sql<string>`students.first_name || ' ' || students.last_name`, 'ilike', pattern),
      ]),
    );
  }
  const { field, direction } = sortOrder(query.sort);
  let page = base.select(COLUMNS);
  for (const column of SORT_COLUMNS[field]) page = page.orderBy(column, direction);
  const [rows, count] = await Promise.all([
    page.orderBy('students.id').limit(query.limit).offset(query.offset).execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertStudent(db: Db, values: Insertable<Students>) {
  return db.insertInto('students').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

/** `creditMinor` is the ledger's running total and is never written here. */
export function updateStudent(db: Db, id: string, values: Omit<Updateable<Students>, 'creditMinor'>) {
  return db
    .updateTable('students')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteStudent(db: Db, id: string): Promise<void> {
  await db.deleteFrom('students').where('id', '=', id).execute();
}

/** Any invoice, voided ones included: the billing history must stay attached to a student. */
export async function studentHasInvoices(db: Db, id: string): Promise<boolean> {
  const row = await db
    .selectFrom('invoices')
    .select(sql<number>`1`.as('one'))
    .where('studentId', '=', id)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The student's guardians with the link's relation, the primary payer first. */
export function listStudentGuardians(db: Db, studentId: string) {
  return db
    .selectFrom('studentGuardians')
    .innerJoin('guardians', 'guardians.id', 'studentGuardians.guardianId')
    .select([
      'guardians.id',
      'guardians.name',
      'guardians.phone',
      'guardians.whatsappOptIn',
      'guardians.preferredLanguage',
      'studentGuardians.relation',
      'studentGuardians.isPrimaryPayer',
    ])
    .where('studentGuardians.studentId', '=', studentId)
    .orderBy('studentGuardians.isPrimaryPayer', 'desc')
    .orderBy('guardians.name')
    .orderBy('guardians.id')
    .execute();
}
