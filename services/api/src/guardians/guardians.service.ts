import { AppError } from '@bursar/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateGuardianBody,
  Guardian,
  GuardianDetail,
  LinkGuardianBody,
  ListGuardiansQuery,
  Paginated,
  StudentGuardianLink,
  StudentStatus,
  UpdateGuardianBody,
} from '@bursar/contracts';
import { schoolForWrite } from '../schools/schools.service.js';
import { findStudent } from '../students/students.repository.js';
import {
  clearOtherPrimaryPayers,
  deleteGuardian as deleteGuardianRow,
  deleteLink,
  findGuardian,
  findLink,
  insertGuardian,
  listGuardians as selectGuardians,
  listGuardianStudents,
  updateGuardian as updateGuardianRow,
  upsertLink,
  type GuardianRow,
  type LinkRow,
} from './guardians.repository.js';
import { normalisePhone } from './phone.js';
import { notFound, constraintError, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const PHONE_TAKEN = {
  guardians_school_id_phone_key: () =>
    new AppError('conflict', 'Another guardian in this school already has this phone number'),
};

function toGuardian(row: GuardianRow): Guardian {
  return {
    id: row.id,
    schoolId: row.schoolId,
    name: row.name,
    phone: row.phone,
    whatsappOptIn: row.whatsappOptIn,
    preferredLanguage: row.preferredLanguage,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function toLink(row: LinkRow): StudentGuardianLink {
  return {
    studentId: row.studentId,
    guardianId: row.guardianId,
    relation: row.relation,
    isPrimaryPayer: row.isPrimaryPayer,
    createdAt: row.createdAt.toISOString(),
  };
}

const linkId = (studentId: string, guardianId: string) => `${studentId}:${guardianId}`;

export async function createGuardian(
  trx: Transaction<DB>,
  actor: Actor,
  body: CreateGuardianBody,
): Promise<Guardian> {
  const { schoolId: requested, phone, ...values } = body;
  const normalised = normalisePhone(phone, 'body.phone');
  const school = await schoolForWrite(trx, actor.caller, requested);
  let created: Guardian;
  try {
    created = toGuardian(await insertGuardian(trx, { ...values, phone: normalised, schoolId: school.id }));
  } catch (error) {
    throw constraintError(error, PHONE_TAKEN);
  }
  await recordAudit(trx, actor, {
    action: 'guardian.create',
    entityType: 'guardian',
    entityId: created.id,
    schoolId: school.id,
    after: created,
  });
  return created;
}

/** A guardian with the students linked to them; 404 outside the caller's school. */
export async function getGuardian(db: Db, scope: string | null, id: string): Promise<GuardianDetail> {
  const row = await findGuardian(db, scope, id);
  if (!row) throw notFound('Guardian');
  const students = await listGuardianStudents(db, id);
  return {
    ...toGuardian(row),
    students: students.map((student) => ({ ...student, status: student.status as StudentStatus })),
  };
}

export async function listGuardians(
  db: Db,
  scope: string | null,
  query: ListGuardiansQuery,
): Promise<Paginated<Guardian>> {
  const { rows, total } = await selectGuardians(db, scope, query);
  return { data: rows.map(toGuardian), pagination: { limit: query.limit, offset: query.offset, total } };
}

export async function updateGuardian(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  body: UpdateGuardianBody,
): Promise<Guardian> {
  const phone = body.phone === undefined ? undefined : normalisePhone(body.phone, 'body.phone');
  const beforeRow = await findGuardian(trx, scope, id, true);
  if (!beforeRow) throw notFound('Guardian');
  let after: Guardian;
  try {
    after = toGuardian(await updateGuardianRow(trx, id, { ...body, phone }));
  } catch (error) {
    throw constraintError(error, PHONE_TAKEN);
  }
  await recordAudit(trx, actor, {
    action: 'guardian.update',
    entityType: 'guardian',
    entityId: id,
    schoolId: after.schoolId,
    before: toGuardian(beforeRow),
    after,
  });
  return after;
}

/** Deletes a guardian and their links to students (the students stay). */
export async function deleteGuardian(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<void> {
  const beforeRow = await findGuardian(trx, scope, id, true);
  if (!beforeRow) throw notFound('Guardian');
  const students = await listGuardianStudents(trx, id);
  await deleteGuardianRow(trx, id);
  await recordAudit(trx, actor, {
    action: 'guardian.delete',
    entityType: 'guardian',
    entityId: id,
    schoolId: beforeRow.schoolId,
    before: { ...toGuardian(beforeRow), studentIds: students.map((student) => student.id) },
  });
}

/**
 * The student (locked, so two requests changing the primary payer run one
 * after the other) and a guardian of the same school; 404 for either when it
 * is outside the caller's school or the guardian is in another school.
 */
async function studentAndGuardian(
  trx: Transaction<DB>,
  scope: string | null,
  studentId: string,
  guardianId: string,
) {
  const student = await findStudent(trx, scope, studentId, true);
  if (!student) throw notFound('Student');
  const guardian = await findGuardian(trx, student.schoolId, guardianId);
  if (!guardian) throw notFound('Guardian');
  return student;
}

/**
 * `PUT` a student–guardian link: creates it or updates its relation and payer
 * flag; repeating the same request changes nothing. A new primary payer
 * replaces the student's previous one in the same transaction.
 */
export async function linkGuardian(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  studentId: string,
  guardianId: string,
  body: LinkGuardianBody,
): Promise<StudentGuardianLink> {
  const student = await studentAndGuardian(trx, scope, studentId, guardianId);
  const existing = await findLink(trx, studentId, guardianId);
  if (existing && existing.relation === body.relation && existing.isPrimaryPayer === body.isPrimaryPayer) {
    return toLink(existing);
  }
  const schoolId = student.schoolId;
  if (body.isPrimaryPayer) {
    for (const cleared of await clearOtherPrimaryPayers(trx, studentId, guardianId)) {
      await recordAudit(trx, actor, {
        action: 'student_guardian.update',
        entityType: 'student_guardian',
        entityId: linkId(studentId, cleared.guardianId),
        schoolId,
        before: toLink(cleared),
        after: toLink({ ...cleared, isPrimaryPayer: false }),
      });
    }
  }
  let link: StudentGuardianLink;
  try {
    link = toLink(await upsertLink(trx, { schoolId, studentId, guardianId, ...body }));
  } catch (error) {
    // Unreachable while the student row lock serialises links; kept so a race can never be a 500.
    throw constraintError(error, {
      student_guardians_primary_payer_key: () =>
        new AppError('conflict', "Another request changed this student's primary payer; try again"),
    });
  }
  await recordAudit(trx, actor, {
    action: existing ? 'student_guardian.update' : 'student_guardian.link',
    entityType: 'student_guardian',
    entityId: linkId(studentId, guardianId),
    schoolId,
    before: existing ? toLink(existing) : undefined,
    after: link,
  });
  return link;
}

export async function unlinkGuardian(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  studentId: string,
  guardianId: string,
): Promise<void> {
  const student = await studentAndGuardian(trx, scope, studentId, guardianId);
  const existing = await findLink(trx, studentId, guardianId);
  if (!existing) throw new AppError('not_found', 'This guardian is not linked to this student');
  await deleteLink(trx, studentId, guardianId);
  await recordAudit(trx, actor, {
    action: 'student_guardian.unlink',
    entityType: 'student_guardian',
    entityId: linkId(studentId, guardianId),
    schoolId: student.schoolId,
    before: toLink(existing),
  });
}
