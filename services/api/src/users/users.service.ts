import { AppError } from '@bursar/contracts';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateUserBody,
  ListUsersQuery,
  Paginated,
  StaffRole,
  StaffUser,
  UpdateUserBody,
  UserStatus,
} from '@bursar/contracts';
import { hashPassword } from '../auth/password.js';
import { findSchool, lockSchool } from '../schools/schools.repository.js';
import {
  findSchoolUser,
  insertUser,
  listSchoolUsers,
  revokeUserSessions,
  updateUser as updateUserRow,
  type UserRow,
} from './users.repository.js';
import { notFound, readScope, constraintError, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

const EMAIL_TAKEN = {
  users_email_key: () =>
    new AppError('conflict', 'This email cannot be used for a new account; it is already in use'),
};

function toStaffUser(row: UserRow): StaffUser {
  return {
    id: row.id,
    schoolId: row.schoolId!,
    email: row.email,
    name: row.name,
    role: row.role as StaffRole,
    status: row.status as UserStatus,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * The school in the path, if the caller may see it: a platform admin any live
 * school, anyone else only their own (404 for another school, so ids do not leak).
 */
async function schoolInScope(db: Db, actor: Pick<Actor, 'caller'>, schoolId: string, lock: boolean) {
  const scope = readScope(actor.caller);
  const school = lock
    ? await lockSchool(db, scope, schoolId, 'share')
    : await findSchool(db, scope, schoolId);
  if (!school) throw notFound('School');
  return school;
}

export async function createUser(
  trx: Transaction<DB>,
  actor: Actor,
  schoolId: string,
  body: CreateUserBody,
): Promise<StaffUser> {
  await schoolInScope(trx, actor, schoolId, true);
  const passwordHash = await hashPassword(body.password);
  let user: StaffUser;
  try {
    user = toStaffUser(
      await insertUser(trx, { schoolId, email: body.email, name: body.name, role: body.role, passwordHash }),
    );
  } catch (error) {
    throw constraintError(error, EMAIL_TAKEN);
  }
  await recordAudit(trx, actor, {
    action: 'user.create',
    entityType: 'user',
    entityId: user.id,
    schoolId,
    after: user,
  });
  return user;
}

export async function listUsers(
  db: Db,
  actor: Pick<Actor, 'caller'>,
  schoolId: string,
  query: ListUsersQuery,
): Promise<Paginated<StaffUser>> {
  await schoolInScope(db, actor, schoolId, false);
  const { rows, total } = await listSchoolUsers(db, schoolId, query);
  return { data: rows.map(toStaffUser), pagination: { limit: query.limit, offset: query.offset, total } };
}

export async function getUser(
  db: Db,
  actor: Pick<Actor, 'caller'>,
  schoolId: string,
  userId: string,
): Promise<StaffUser> {
  await schoolInScope(db, actor, schoolId, false);
  const row = await findSchoolUser(db, schoolId, userId);
  if (!row) throw notFound('User');
  return toStaffUser(row);
}

/**
 * Changes a staff user. A new password or disabling the account signs the
 * user out of every session. Nobody changes their own role or status: an admin
 * who demoted or disabled themselves could leave the school without one.
 */
export async function updateUser(
  trx: Transaction<DB>,
  actor: Actor,
  schoolId: string,
  userId: string,
  body: UpdateUserBody,
): Promise<StaffUser> {
  await schoolInScope(trx, actor, schoolId, true);
  const beforeRow = await findSchoolUser(trx, schoolId, userId, true);
  if (!beforeRow) throw notFound('User');
  const before = toStaffUser(beforeRow);
  const changesOwnAccess =
    (body.role !== undefined && body.role !== before.role) ||
    (body.status !== undefined && body.status !== before.status);
  if (userId === actor.caller.userId && changesOwnAccess) {
    throw new AppError('forbidden', 'You cannot change your own role or status; ask another admin');
  }
  const { password, ...changes } = body;
  const passwordHash = password === undefined ? undefined : await hashPassword(password);
  const after = toStaffUser(await updateUserRow(trx, userId, { ...changes, passwordHash }));
  if (passwordHash !== undefined || (body.status === 'disabled' && before.status !== 'disabled')) {
    await revokeUserSessions(trx, userId);
  }
  await recordAudit(trx, actor, {
    action: 'user.update',
    entityType: 'user',
    entityId: userId,
    schoolId,
    before,
    // The audit says that the password changed, never what to.
    after: { ...after, ...(passwordHash === undefined ? {} : { passwordChanged: true }) },
  });
  return after;
}
