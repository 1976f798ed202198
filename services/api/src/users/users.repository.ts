import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { DB, Users } from '@bursar/db';
import { StaffRole, sortOrder, type ListUsersQuery } from '@bursar/contracts';
import { containsPattern } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

// Never the password hash: no query here selects it.
const COLUMNS = [
  'users.id',
  'users.schoolId',
  'users.email',
  'users.name',
  'users.role',
  'users.status',
  'users.createdAt',
  'users.updatedAt',
] as const;

const STAFF_ROLES = StaffRole.options;

const SORT_COLUMNS = { name: 'users.name', email: 'users.email', createdAt: 'users.createdAt' } as const;

export type UserRow = Awaited<ReturnType<typeof insertUser>>;

/** A staff user of `schoolId` (guardian logins and platform admins are not staff of a school). */
export function findSchoolUser(db: Db, schoolId: string, id: string, lock = false) {
  const query = db
    .selectFrom('users')
    .select(COLUMNS)
    .where('users.id', '=', id)
    .where('users.schoolId', '=', schoolId)
    .where('users.role', 'in', STAFF_ROLES);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

export async function listSchoolUsers(db: Db, schoolId: string, query: ListUsersQuery) {
  let base = db
    .selectFrom('users')
    .where('users.schoolId', '=', schoolId)
    .where('users.role', 'in', STAFF_ROLES);
  if (query.role) base = base.where('users.role', '=', query.role);
  if (query.status) base = base.where('users.status', '=', query.status);
  if (query.q) {
    const pattern = containsPattern(query.q);
    base = base.where((eb) =>
      eb.or([eb('users.name', 'ilike', pattern), eb('users.email', 'ilike', pattern)]),
    );
  }
  const { field, direction } = sortOrder(query.sort);
  const [rows, count] = await Promise.all([
    base
      .select(COLUMNS)
      .orderBy(SORT_COLUMNS[field], direction)
      .orderBy('users.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertUser(db: Db, values: Insertable<Users>) {
  return db.insertInto('users').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

export function updateUser(db: Db, id: string, values: Updateable<Users>) {
  return db
    .updateTable('users')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Signs a user out everywhere: every refresh token still usable is revoked. */
export async function revokeUserSessions(db: Db, userId: string): Promise<void> {
  await db
    .updateTable('refreshTokens')
    .set({ revokedAt: sql`now()` })
    .where('userId', '=', userId)
    .where('revokedAt', 'is', null)
    .execute();
}

/** Disables every active user of a school and revokes their sessions; returns their ids. */
export async function disableSchoolUsers(db: Db, schoolId: string): Promise<string[]> {
  const rows = await db
    .updateTable('users')
    .set({ status: 'disabled', updatedAt: sql`now()` })
    .where('schoolId', '=', schoolId)
    .where('status', '=', 'active')
    .returning('id')
    .execute();
  const ids = rows.map((row) => row.id);
  if (ids.length) {
    await db
      .updateTable('refreshTokens')
      .set({ revokedAt: sql`now()` })
      .where('userId', 'in', ids)
      .where('revokedAt', 'is', null)
      .execute();
  }
  return ids;
}
