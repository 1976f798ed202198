import { type ErrorCode, type Problem, type ProblemFieldError } from '@bursar/contracts';

/** HTTP status and title for each error code: the one place codes become statuses. */
export const ERROR_STATUS: Record<ErrorCode, { status: number; title: string }> = {
  validation_failed: { status: 422, title: 'Validation failed' },
  malformed_json: { status: 400, title: 'Malformed JSON' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  unauthenticated: { status: 401, title: 'Unauthenticated' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused' },
  rate_limited: { status: 429, title: 'Too many requests' },
  invalid_signature: { status: 401, title: 'Invalid signature' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  internal_error: { status: 500, title: 'Internal server error' },
};

/**
 * The error domain code throws. `detail` is safe to show a client; `message`
 * (internal) may carry more and only reaches logs.
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

  get status(): number {
    return ERROR_STATUS[this.code].status;
  }
}

export function toProblem(error: AppError, instance: string, requestId?: string): Problem {
  const { status, title } = ERROR_STATUS[error.code];
  return {
    type: `https://bursar.dev/problems/${error.code.replaceAll('_', '-')}`,
    title,
    status,
    detail: error.detail,
    instance,
    code: error.code,
    ...(requestId ? { requestId } : {}),
    ...(error.options.errors ? { errors: error.options.errors } : {}),
  };
}
