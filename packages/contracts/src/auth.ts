import { z } from 'zod';
import { Id } from './common.js';

/** Who a user is to Bursar; the permission matrix lives in `packages/platform/src/permissions.ts`. */
export const Role = z.enum(['platform_admin', 'school_admin', 'accountant', 'teacher', 'guardian']);
export type Role = z.infer<typeof Role>;

/** Staff roles a school admin may grant (never `platform_admin`). */
export const StaffRole = z.enum(['school_admin', 'accountant', 'teacher']);
export type StaffRole = z.infer<typeof StaffRole>;

export const LoginBody = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(1).max(1024),
});
export type LoginBody = z.infer<typeof LoginBody>;

export const RefreshBody = z.strictObject({ refreshToken: z.string().min(20).max(512) });
export type RefreshBody = z.infer<typeof RefreshBody>;

/** Logout revokes the refresh token's whole family (every device session from that login). */
export const LogoutBody = RefreshBody;
export type LogoutBody = RefreshBody;

/** Answer of login and refresh. `expiresIn` is the access token's lifetime in seconds. */
export const TokenResponse = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int(),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** Claims of an access token (besides iss, aud, iat, exp, jti). */
export const AccessClaims = z.object({
  sub: Id,
  role: Role,
  schoolId: Id.nullable(),
});
export type AccessClaims = z.infer<typeof AccessClaims>;

/** `GET /api/me`. */
export const Me = z.object({
  id: Id,
  email: z.string(),
  name: z.string(),
  role: Role,
  schoolId: Id.nullable(),
});
export type Me = z.infer<typeof Me>;

/** The JWT issuer and audience every service checks. */
export const JWT_ISSUER = 'bursar-api';
export const JWT_AUDIENCE = 'bursar';
