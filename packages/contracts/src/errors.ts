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
  /** A payment-provider webhook's signature is missing, garbled, wrong or too old (400): nothing was stored. */
  'bad_webhook_signature',
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

/**
 * The error domain code throws (the ledger, repositories, services, processors).
 * It names a code, never an HTTP status: `packages/platform` maps codes to
 * statuses and renders problem+json. `detail` is safe to show a client;
 * `internal` (the message) may carry more and only reaches logs. It lives here,
 * with no runtime dependency, so the money domain need not load the web stack.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly options: {
      errors?: ProblemFieldError[];
      internal?: string;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(options.internal ?? detail, { cause: options.cause });
    this.name = 'AppError';
  }
}
