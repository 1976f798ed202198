import { AppError } from '@bursar/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateStudentBody,
  ListStudentsQuery,
  Paginated,
  Student,
  StudentDetail,
  StudentStatus,
  UpdateStudentBody,
} from '@bursar/contracts';
import { toNumber } from '@bursar/ledger';
import { findClass } from '../classes/classes.repository.js';
import { schoolForWrite } from '../schools/schools.service.js';
import {
  deleteStudent as deleteStudentRow,
  findStudent,
  insertStudent,
  listStudentGuardians,
  listStudents as selectStudents,
  studentHasInvoices,
  updateStudent as updateStudentRow,
  type StudentRow,
} from './students.repository.js';
import { notFound, constraintError, fieldError, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const NOT_A_CLASS = () => fieldError('body.classId', 'no such class in this school');

const WRITE_CONSTRAINTS = {
  students_school_id_admission_no_key: () =>
    new AppError('conflict', 'Another student in this school already has this admission number'),
  // The class was deleted between our check and the insert.
  students_class_id_school_id_fkey: NOT_A_CLASS,
};

const HAS_BILLING = () =>
  new AppError(
    'conflict',
    "The student has invoices and cannot be deleted; set their status to 'left' instead",
  );

function toStudent(row: StudentRow): Student {
  return {
    id: row.id,
    schoolId: row.schoolId,
    classId: row.classId,
    firstName: row.firstName,
    lastName: row.lastName,
    admissionNo: row.admissionNo,
    status: row.status as StudentStatus,
    creditMinor: toNumber(row.creditMinor),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A class id from a client must name a class of the student's own school (422 otherwise, never a cross-school link). */
async function assertClassInSchool(
  db: Db,
  schoolId: string,
  classId: string | null | undefined,
): Promise<void> {
  if (classId && !(await findClass(db, schoolId, classId))) throw NOT_A_CLASS();
}

export async function createStudent(
  trx: Transaction<DB>,
  actor: Actor,
  body: CreateStudentBody,
): Promise<Student> {
  const { schoolId: requested, ...values } = body;
  // A platform admin need not repeat the school the student's class already names.
  const classSchool =
    actor.caller.role === 'platform_admin' && values.classId
      ? (await findClass(trx, null, values.classId))?.schoolId
      : undefined;
  const school = await schoolForWrite(trx, actor.caller, requested, classSchool);
  await assertClassInSchool(trx, school.id, values.classId);
  let created: Student;
  try {
    created = toStudent(await insertStudent(trx, { ...values, schoolId: school.id }));
  } catch (error) {
    throw constraintError(error, WRITE_CONSTRAINTS);
  }
  await recordAudit(trx, actor, {
    action: 'student.create',
    entityType: 'student',
    entityId: created.id,
    schoolId: school.id,
    after: created,
  });
  return created;
}

/** A student with their credit and guardians; 404 outside the caller's school. */
export async function getStudent(db: Db, scope: string | null, id: string): Promise<StudentDetail> {
  const row = await findStudent(db, scope, id);
  if (!row) throw notFound('Student');
  return { ...toStudent(row), guardians: await listStudentGuardians(db, id) };
}

export async function listStudents(
  db: Db,
  scope: string | null,
  query: ListStudentsQuery,
): Promise<Paginated<Student>> {
  const { rows, total } = await selectStudents(db, scope, query);
  return { data: rows.map(toStudent), pagination: { limit: query.limit, offset: query.offset, total } };
}

export async function updateStudent(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  body: UpdateStudentBody,
): Promise<Student> {
  const beforeRow = await findStudent(trx, scope, id, true);
  if (!beforeRow) throw notFound('Student');
  await assertClassInSchool(trx, beforeRow.schoolId, body.classId);
  let after: Student;
  try {
    after = toStudent(await updateStudentRow(trx, id, body));
  } catch (error) {
    throw constraintError(error, WRITE_CONSTRAINTS);
  }
  await recordAudit(trx, actor, {
    action: 'student.update',
    entityType: 'student',
    entityId: id,
    schoolId: after.schoolId,
    before: toStudent(beforeRow),
    after,
  });
  return after;
}

/**
 * Deletes a student who was never billed (their guardian links go with them).
 * Anyone with invoices stays on record: 409, with `status: 'left'` suggested.
 */
export async function deleteStudent(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<void> {
  const beforeRow = await findStudent(trx, scope, id, true);
  if (!beforeRow) throw notFound('Student');
  if (await studentHasInvoices(trx, id)) throw HAS_BILLING();
  const guardians = await listStudentGuardians(trx, id);
  try {
    await deleteStudentRow(trx, id);
  } catch (error) {
    throw constraintError(error, {
      invoices_student_id_school_id_fkey: HAS_BILLING,
      payments_student_id_school_id_fkey: HAS_BILLING,
    });
  }
  await recordAudit(trx, actor, {
    action: 'student.delete',
    entityType: 'student',
    entityId: id,
    schoolId: beforeRow.schoolId,
    before: { ...toStudent(beforeRow), guardianIds: guardians.map((guardian) => guardian.id) },
  });
}
