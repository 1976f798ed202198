import { AppError } from '@bursar/contracts';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { Me, Role, TokenResponse } from '@bursar/contracts';
import type { UserState, UserStates } from '@bursar/platform';
import { verifyPassword } from './password.js';
import type { SigningKeys } from './keys.js';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  REFRESH_TOKEN_TTL_SECONDS,
  hashRefreshToken,
  newRefreshToken,
  signAccessToken,
} from './tokens.js';
import {
  findUserByEmail,
  findUserById,
  insertRefreshToken,
  lockRefreshToken,
  markRefreshTokenUsed,
  revokeFamily,
} from './auth.repository.js';

// Verifying against a fixed hash when the email is unknown keeps the time of a
// failed login the same whether or not the account exists.
const DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$1Ik9ONTs0AW8LoufXQRubA$WKhbiZ/StHgaTiNuSfL5Yk0JQa1Ok+rDC5rqeBKwnSQ';

const INVALID = () => new AppError('unauthenticated', 'The email or password is not correct');

async function issueTokens(
  db: Kysely<DB>,
  keys: SigningKeys,
  user: { id: string; role: string; schoolId: string | null },
  familyId: string,
): Promise<TokenResponse> {
  const refresh = newRefreshToken();
  await insertRefreshToken(db, {
    userId: user.id,
    familyId,
    tokenHash: refresh.hash,
    expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_SECONDS * 1000),
  });
  const accessToken = await signAccessToken(keys, {
    sub: user.id,
    role: user.role as Role,
    schoolId: user.schoolId,
  });
  return {
    accessToken,
    refreshToken: refresh.token,
    tokenType: 'Bearer',
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
  };
}

/** Checks the password (argon2id) and starts a new refresh-token family. */
export async function logIn(
  db: Kysely<DB>,
  keys: SigningKeys,
  email: string,
  password: string,
): Promise<TokenResponse> {
  const user = await findUserByEmail(db, email);
  const ok = await verifyPassword(user?.passwordHash ?? DUMMY_HASH, password);
  if (!user || !ok || user.status !== 'active') throw INVALID();
  return issueTokens(db, keys, user, randomUUID());
}

/**
 * Rotates a refresh token. A token presented twice means it was stolen or
 * replayed: the whole family (every token descended from that login) is revoked.
 */
export async function refresh(db: Kysely<DB>, keys: SigningKeys, token: string): Promise<TokenResponse> {
  const outcome = await db.transaction().execute(async (trx) => {
    const row = await lockRefreshToken(trx, hashRefreshToken(token));
    if (!row || row.revokedAt || row.expiresAt.getTime() <= Date.now()) return { kind: 'invalid' as const };
    if (row.usedAt) {
      await revokeFamily(trx, row.familyId);
      return { kind: 'reused' as const };
    }
    const user = await findUserById(trx, row.userId);
    if (!user || user.status !== 'active') return { kind: 'invalid' as const };
    await markRefreshTokenUsed(trx, row.id);
    return { kind: 'ok' as const, user, familyId: row.familyId };
  });
  if (outcome.kind === 'reused') {
    throw new AppError(
      'unauthenticated',
      'This refresh token was already used; every session from that login is now signed out',
    );
  }
  if (outcome.kind === 'invalid')
    throw new AppError('unauthenticated', 'The refresh token is invalid or expired');
  return issueTokens(db, keys, outcome.user, outcome.familyId);
}

/** Revokes the token's family. Unknown tokens are ignored: logging out twice is fine. */
export async function logOut(db: Kysely<DB>, token: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await lockRefreshToken(trx, hashRefreshToken(token));
    if (row) await revokeFamily(trx, row.familyId);
  });
}

/**
 * The caller as `GET /api/me` shows them, from the same per-process user cache
 * the authenticator just read (invalidated by the `bursar_user_changed`
 * trigger and by `forget` after a change): no query per request.
 */
export function getMe(users: UserStates, userId: string): Me | Promise<Me> {
  const known = users.peek?.(userId);
  if (known) return meOf(userId, known.state);
  return users.get(userId).then((state) => meOf(userId, state));
}

function meOf(userId: string, user: UserState | undefined): Me {
  if (!user) throw new AppError('not_found', 'This user no longer exists');
  return { id: userId, email: user.email, name: user.name, role: user.role, schoolId: user.schoolId };
}
