import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

export function findUserByEmail(db: Db, email: string) {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'role', 'schoolId', 'passwordHash', 'status'])
    .where(sql`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

export function findUserById(db: Db, id: string) {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'role', 'schoolId', 'status'])
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function insertRefreshToken(
  db: Db,
  row: { userId: string; familyId: string; tokenHash: string; expiresAt: Date },
): Promise<void> {
  await db.insertInto('refreshTokens').values(row).execute();
}

/** Locks the token row so two refreshes racing with the same token cannot both succeed. */
export function lockRefreshToken(db: Db, tokenHash: string) {
  return db
    .selectFrom('refreshTokens')
    .select(['id', 'userId', 'familyId', 'expiresAt', 'usedAt', 'revokedAt'])
    .where('tokenHash', '=', tokenHash)
    .forUpdate()
    .executeTakeFirst();
}

export async function markRefreshTokenUsed(db: Db, id: string): Promise<void> {
  await db.updateTable('refreshTokens').set({ usedAt: new Date() }).where('id', '=', id).execute();
}

export async function revokeFamily(db: Db, familyId: string): Promise<void> {
  await db
    .updateTable('refreshTokens')
    .set({ revokedAt: new Date() })
    .where('familyId', '=', familyId)
    .where('revokedAt', 'is', null)
    .execute();
}
