import { AppError } from '@bursar/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateClassBody,
  ListClassesQuery,
  Paginated,
  SchoolClass,
  UpdateClassBody,
} from '@bursar/contracts';
import { schoolForWrite } from '../schools/schools.service.js';
import {
  classHasStudents,
  deleteClass as deleteClassRow,
  findClass,
  insertClass,
  listClasses as selectClasses,
  updateClass as updateClassRow,
  type ClassRow,
} from './classes.repository.js';
import { notFound, constraintError, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const CLASS_TAKEN = {
  classes_school_id_academic_year_name_section_key: () =>
    new AppError(
      'conflict',
      'The school already has a class with this name and section in this academic year',
    ),
};

const IN_USE = () =>
  new AppError('conflict', 'Students are still in this class; move them to another class first');

function toClass(row: ClassRow): SchoolClass {
  return {
    id: row.id,
    schoolId: row.schoolId,
    name: row.name,
    grade: row.grade,
    section: row.section,
    academicYear: row.academicYear,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function createClass(
  trx: Transaction<DB>,
  actor: Actor,
  body: CreateClassBody,
): Promise<SchoolClass> {
  const { schoolId: requested, ...values } = body;
  const school = await schoolForWrite(trx, actor.caller, requested);
  let created: SchoolClass;
  try {
    created = toClass(await insertClass(trx, { ...values, schoolId: school.id }));
  } catch (error) {
    throw constraintError(error, CLASS_TAKEN);
  }
  await recordAudit(trx, actor, {
    action: 'class.create',
    entityType: 'class',
    entityId: created.id,
    schoolId: school.id,
    after: created,
  });
  return created;
}

export async function getClass(db: Db, scope: string | null, id: string): Promise<SchoolClass> {
  const row = await findClass(db, scope, id);
  if (!row) throw notFound('Class');
  return toClass(row);
}

export async function listClasses(
  db: Db,
  scope: string | null,
  query: ListClassesQuery,
): Promise<Paginated<SchoolClass>> {
  const { rows, total } = await selectClasses(db, scope, query);
  return { data: rows.map(toClass), pagination: { limit: query.limit, offset: query.offset, total } };
}

export async function updateClass(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  body: UpdateClassBody,
): Promise<SchoolClass> {
  const beforeRow = await findClass(trx, scope, id, true);
  if (!beforeRow) throw notFound('Class');
  let after: SchoolClass;
  try {
    after = toClass(await updateClassRow(trx, id, body));
  } catch (error) {
    throw constraintError(error, CLASS_TAKEN);
  }
  await recordAudit(trx, actor, {
    action: 'class.update',
    entityType: 'class',
    entityId: id,
    schoolId: after.schoolId,
    before: toClass(beforeRow),
    after,
  });
  return after;
}

/** Deletes an empty class; one that students (even those who left) still point to is a 409. */
export async function deleteClass(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<void> {
  const beforeRow = await findClass(trx, scope, id, true);
  if (!beforeRow) throw notFound('Class');
  if (await classHasStudents(trx, id)) throw IN_USE();
  try {
    await deleteClassRow(trx, id);
  } catch (error) {
    // A student added between the check and the delete.
    throw constraintError(error, { students_class_id_school_id_fkey: IN_USE });
  }
  await recordAudit(trx, actor, {
    action: 'class.delete',
    entityType: 'class',
    entityId: id,
    schoolId: beforeRow.schoolId,
    before: toClass(beforeRow),
  });
}
