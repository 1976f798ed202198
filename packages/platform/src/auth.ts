import { AppError } from '@bursar/contracts';
import type { RequestHandler } from 'express';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { AccessClaims, JWT_AUDIENCE, JWT_ISSUER, type Role } from '@bursar/contracts';
import { describeRoute } from './route.js';

/** The caller, as proven by a verified access token. */
export interface AuthContext {
  userId: string;
  role: Role;
  /** `null` only for platform admins, who act across schools. */
  schoolId: string | null;
}

declare module 'http' {
  interface IncomingMessage {
    /** Set by `authenticate`; absent on public routes. */
    auth?: AuthContext;
  }
}

/** Keys to verify access tokens with: the api's own JWKS in-process, or a remote JWKS URL for other services. */
export function jwksKeySource(source: { jwks: JSONWebKeySet } | { url: string }): JWTVerifyGetKey {
  return 'url' in source
    ? createRemoteJWKSet(new URL(source.url), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : createLocalJWKSet(source.jwks);
}

/**
 * Tokens already verified, until they expire. A signature check costs more
 * than the rest of a typical request; a token's claims cannot change, and
 * access tokens are not revocable before expiry anyway (15 minutes).
 */
const verified = new Map<string, { auth: AuthContext; expiresAt: number }>();
const VERIFIED_CACHE_SIZE = 10_000;

function remember(token: string, auth: AuthContext, expiresAt: number): void {
  if (verified.size >= VERIFIED_CACHE_SIZE) {
    // Drop the oldest entry (Map keeps insertion order).
    verified.delete(verified.keys().next().value!);
  }
  verified.set(token, { auth, expiresAt });
}

/** Verifies a bearer token's signature, issuer, audience, expiry and claims. */
export async function verifyAccessToken(token: string, keys: JWTVerifyGetKey): Promise<AuthContext> {
  const cached = verified.get(token);
  if (cached && cached.expiresAt > Date.now()) return cached.auth;
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      algorithms: ['EdDSA'],
    });
    const claims = AccessClaims.parse(payload);
    const auth = { userId: claims.sub, role: claims.role, schoolId: claims.schoolId };
    remember(token, auth, (payload.exp ?? 0) * 1000);
    return auth;
  } catch {
    throw new AppError('unauthenticated', 'The access token is missing, expired or invalid', {
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    });
  }
}

/** Requires `Authorization: Bearer <access token>` and sets `req.auth`. */
export function authenticate(keys: JWTVerifyGetKey): RequestHandler {
  const handler: RequestHandler = async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) {
      return next(
        new AppError('unauthenticated', 'Send an access token as `Authorization: Bearer <token>`', {
          headers: { 'WWW-Authenticate': 'Bearer' },
        }),
      );
    }
    try {
      req.auth = await verifyAccessToken(match[1]!, keys);
      next();
    } catch (error) {
      next(error);
    }
  };
  return describeRoute(handler, { bearerAuth: true, errors: ['unauthenticated'] });
}

/** The verified caller; throws 401 if a route forgot `authenticate`. */
export function callerOf(req: { auth?: AuthContext }): AuthContext {
  if (!req.auth) throw new AppError('unauthenticated', 'Authentication required');
  return req.auth;
}
