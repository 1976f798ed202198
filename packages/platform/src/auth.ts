import type { Request } from 'express';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { AccessClaims, AppError, JWT_AUDIENCE, JWT_ISSUER, Role } from '@bursar/contracts';
import type { UserState, UserStates } from './user-state.js';

/**
 * The caller of a request: who the access token proves them to be, with the
 * role and school their account has now (not when the token was issued).
 */
export interface Caller {
  userId: string;
  role: Role;
  /** `null` only for platform admins, who act across schools. */
  schoolId: string | null;
}

/** Keys to verify access tokens with: the api's own JWKS in-process, or a remote JWKS URL for other services. */
export function jwksKeySource(
  source: { jwks: JSONWebKeySet } | { url: string; cooldownMs?: number },
): JWTVerifyGetKey {
  // jose refetches the remote set when a token names an unknown `kid` (key rotation),
  // at most once per cooldown so forged kids cannot hammer the api, and otherwise
  // keeps it for cacheMaxAge.
  return 'url' in source
    ? createRemoteJWKSet(new URL(source.url), {
        cooldownDuration: source.cooldownMs ?? 30_000,
        cacheMaxAge: 10 * 60_000,
      })
    : createLocalJWKSet(source.jwks);
}

/** What a verified token says: only the user id matters for access; role and school are re-read. */
interface VerifiedToken {
  userId: string;
  expiresAt: number;
}

/**
 * Tokens already verified, until they expire. A signature check costs more
 * than the rest of a typical request, and a token's claims cannot change.
 * Whether the user may still act is checked on every request (`UserStates`).
 */
const verified = new Map<string, VerifiedToken>();
const VERIFIED_CACHE_SIZE = 10_000;

function remember(token: string, entry: VerifiedToken): void {
  if (verified.size >= VERIFIED_CACHE_SIZE) {
    // Drop the oldest entry (Map keeps insertion order).
    verified.delete(verified.keys().next().value!);
  }
  verified.set(token, entry);
}

/** A token this process has verified and that has not expired yet, without waiting. */
function verifiedToken(token: string): VerifiedToken | undefined {
  const cached = verified.get(token);
  return cached && cached.expiresAt > Date.now() ? cached : undefined;
}

const invalidToken = () =>
  new AppError('unauthenticated', 'The access token is missing, expired or invalid', {
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });

/**
 * Verifies a bearer token's signature, issuer, audience and claims; `exp`,
 * `iat` and `sub` must be present (a token without an expiry never ends).
 */
export async function verifyAccessToken(token: string, keys: JWTVerifyGetKey): Promise<VerifiedToken> {
  const cached = verifiedToken(token);
  if (cached) return cached;
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      algorithms: ['EdDSA'],
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    const claims = AccessClaims.parse(payload);
    const entry = { userId: claims.sub, expiresAt: payload.exp! * 1000 };
    remember(token, entry);
    return entry;
  } catch {
    throw invalidToken();
  }
}

// RFC 9110: the scheme is case-insensitive; RFC 6750 token68 characters.
const BEARER = /^bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** Authenticates requests for one service: verifies the token, then checks the account as it is now. */
export interface Authenticator {
  /**
   * The caller of `req` (401 problem when there is no valid token or the
   * account is not active). Answered at once, without a promise, when the
   * token and the user are both in this process's caches: most requests.
   */
  authenticate(req: Request): Caller | Promise<Caller>;
}

/**
 * An authenticator from the keys that sign tokens (the api's own JWKS, or the
 * api's JWKS URL in other services) and the users' current state. A disabled
 * user's next request is 401; a demoted one acts with the new role at once.
 */
export function createAuthenticator(options: { keys: JWTVerifyGetKey; users: UserStates }): Authenticator {
  const callerOf = (userId: string, user: UserState | undefined): Caller => {
    if (!user || user.status !== 'active') {
      throw new AppError('unauthenticated', 'This account is disabled or no longer exists', {
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    return { userId, role: user.role, schoolId: user.schoolId };
  };
  const slow = async (token: string): Promise<Caller> => {
    const { userId } = await verifyAccessToken(token, options.keys);
    return callerOf(userId, await options.users.get(userId));
  };
  return {
    authenticate(req) {
      const header = req.headers.authorization;
      const match = header ? BEARER.exec(header) : null;
      if (!match) {
        throw new AppError('unauthenticated', 'Send an access token as `Authorization: Bearer <token>`', {
          headers: { 'WWW-Authenticate': 'Bearer' },
        });
      }
      const token = match[1]!;
      const verifiedNow = verifiedToken(token);
      const known = verifiedNow && options.users.peek?.(verifiedNow.userId);
      return verifiedNow && known ? callerOf(verifiedNow.userId, known.state) : slow(token);
    },
  };
}

/** True when `role` is one Bursar knows (a row edited by hand could hold anything). */
export function isRole(role: string): role is Role {
  return Role.safeParse(role).success;
}
