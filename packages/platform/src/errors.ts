import type { AppError, ErrorCode, Problem } from '@bursar/contracts';

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
  bad_webhook_signature: { status: 400, title: 'Bad webhook signature' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  internal_error: { status: 500, title: 'Internal server error' },
};

/** The HTTP status an error code answers with. */
export function statusOf(error: AppError): number {
  return ERROR_STATUS[error.code].status;
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
