import { z } from 'zod';

/**
 * Machine-readable error codes. Every code maps to exactly one HTTP status in
 * `packages/platform` (`errors.ts`); clients switch on `code`, people read `detail`.
 */
export const ErrorCode = z.enum([
  /** The request body, query, path or a header failed validation (422). */
  'validation_failed',
  /** The body is not parseable JSON (400). */
  'malformed_json',
  /** The body exceeds the size limit (413). */
  'payload_too_large',
  /** The content type is not one this route accepts (415). */
  'unsupported_media_type',
  /** No credentials, or credentials that do not verify (401). */
  'unauthenticated',
  /** Authenticated but the role may not do this (403). */
  'forbidden',
  /** The resource does not exist or belongs to another school (404). */
  'not_found',
  /** The route exists but not for this method (405). */
  'method_not_allowed',
  /** A unique value is already taken, or the resource's state forbids the change (409). */
  'conflict',
  /** An `Idempotency-Key` was reused with a different request (422). */
  'idempotency_key_reused',
  /** Too many requests; see `Retry-After` (429). */
  'rate_limited',
  /** A webhook or request signature did not verify (401). */
  'invalid_signature',
  /** A dependency (database, Redis) is unavailable (503). */
  'service_unavailable',
  /** Anything unexpected; details are in the logs under the request id (500). */
  'internal_error',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** One failing field of a validation error; `path` is a JSON pointer-ish dotted path. */
export const ProblemFieldError = z.object({
  path: z.string(),
  message: z.string(),
  code: z.string().optional(),
});
export type ProblemFieldError = z.infer<typeof ProblemFieldError>;

/** RFC 9457 problem details, the body of every error response (`application/problem+json`). */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string(),
  code: ErrorCode,
  requestId: z.string().optional(),
  errors: z.array(ProblemFieldError).optional(),
});
export type Problem = z.infer<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
