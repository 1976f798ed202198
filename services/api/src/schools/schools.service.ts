import { AppError } from '@bursar/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateSchoolBody,
  ListSchoolsQuery,
  Paginated,
  School,
  SchoolDetail,
  UpdateSchoolBody,
} from '@bursar/contracts';
import { type Caller, notFound, writeSchool, fieldError, recordAudit, type Actor } from '@bursar/platform';
import { normalisePhone } from '../guardians/phone.js';
import { disableSchoolUsers } from '../users/users.repository.js';
import {
  countActiveStudents,
  findSchool,
  insertSchool,
  listSchools as selectSchools,
  lockSchool,
  onlySchoolId,
  schoolHasInvoices,
  schoolHasStudents,
  softDeleteSchool,
  updateSchool as updateSchoolRow,
  type SchoolRow,
} from './schools.repository.js';

type Db = Kysely<DB> | Transaction<DB>;
/** Who is acting, for the audit log. */

function toSchool(row: SchoolRow): School {
  return {
    id: row.id,
    name: row.name,
    currency: row.currency,
    timezone: row.timezone,
    locale: row.locale,
    address: row.address,
    contactEmail: row.contactEmail,
    contactPhone: row.contactPhone,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function createSchool(
  trx: Transaction<DB>,
  actor: Actor,
  body: CreateSchoolBody,
): Promise<School> {
  const row = await insertSchool(trx, {
    name: body.name,
    currency: body.currency,
    timezone: body.timezone,
    locale: body.locale,
    address: body.address ?? null,
    contactEmail: body.contactEmail ?? null,
    contactPhone:
      body.contactPhone === undefined ? null : normalisePhone(body.contactPhone, 'body.contactPhone'),
  });
  const school = toSchool(row);
  await recordAudit(trx, actor, {
    action: 'school.create',
    entityType: 'school',
    entityId: school.id,
    schoolId: school.id,
    after: school,
  });
  return school;
}

/** One school with its active student count; 404 when deleted or outside the caller's scope. */
export async function getSchool(db: Db, scope: string | null, id: string): Promise<SchoolDetail> {
  const row = await findSchool(db, scope, id);
  if (!row) throw notFound('School');
  return { ...toSchool(row), studentsCount: await countActiveStudents(db, id) };
}

export async function listSchools(
  db: Db,
  scope: string | null,
  query: ListSchoolsQuery,
): Promise<Paginated<School>> {
  const { rows, total } = await selectSchools(db, scope, query);
  return { data: rows.map(toSchool), pagination: { limit: query.limit, offset: query.offset, total } };
}

/**
 * Changes a school's settings. The currency is fixed once an invoice exists:
 * every amount already billed is in it (409). The row lock keeps two edits
 * from interleaving their checks.
 */
export async function updateSchool(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  body: UpdateSchoolBody,
): Promise<School> {
  const before = await lockSchool(trx, scope, id, 'update');
  if (!before) throw notFound('School');
  if (
    body.currency !== undefined &&
    body.currency !== before.currency &&
    (await schoolHasInvoices(trx, id))
  ) {
    throw new AppError(
      'conflict',
      `The currency cannot change from ${before.currency}: the school already has invoices in it`,
    );
  }
  const row = await updateSchoolRow(trx, id, {
    ...body,
    contactPhone:
      body.contactPhone === undefined || body.contactPhone === null
        ? body.contactPhone
        : normalisePhone(body.contactPhone, 'body.contactPhone'),
  });
  const after = toSchool(row);
  await recordAudit(trx, actor, {
    action: 'school.update',
    entityType: 'school',
    entityId: id,
    schoolId: id,
    before: toSchool(before),
    after,
  });
  return after;
}

/**
 * Soft-deletes an empty school: one with students or invoices is refused
 * (409), since its billing history must stay readable. The school's staff are
 * disabled with it, so nobody keeps working in a school that no longer exists.
 */
export async function deleteSchool(trx: Transaction<DB>, actor: Actor, id: string): Promise<void> {
  const before = await lockSchool(trx, null, id, 'update');
  if (!before) throw notFound('School');
  if (await schoolHasStudents(trx, id)) {
    throw new AppError('conflict', 'The school has students; remove them before deleting the school');
  }
  if (await schoolHasInvoices(trx, id)) {
    throw new AppError('conflict', 'The school has invoices and cannot be deleted');
  }
  await softDeleteSchool(trx, id);
  const disabled = await disableSchoolUsers(trx, id);
  await recordAudit(trx, actor, {
    action: 'school.delete',
    entityType: 'school',
    entityId: id,
    schoolId: id,
    before: toSchool(before),
    after: { deleted: true, disabledUserIds: disabled },
  });
}

/**
 * The school a new row goes into (see `writeSchool`), locked against a
 * concurrent delete for the rest of the transaction. A platform admin need not
 * name it when the request already implies it (`implied`: the school of the
 * class or student the row hangs on) or when there is only one school; a
 * `schoolId` that contradicts the implied one, or names no school, is a 422.
 */
export async function schoolForWrite(
  trx: Transaction<DB>,
  caller: Caller,
  requested: string | undefined,
  implied?: string,
) {
  let inferred = implied;
  if (caller.role === 'platform_admin' && requested === undefined && inferred === undefined) {
    inferred = await onlySchoolId(trx);
  }
  const schoolId = writeSchool(caller, requested, inferred);
  const school = await lockSchool(trx, null, schoolId, 'share');
  if (!school) {
    if (caller.role === 'platform_admin') throw fieldError('body.schoolId', 'no such school');
    throw notFound('School');
  }
  return school;
}
