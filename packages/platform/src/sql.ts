import { AppError } from '@bursar/contracts';

/**
 * Makes user text literal inside an ILIKE pattern: `%`, `_` and the escape
 * character itself match only themselves, so `q=50%` does not match everything.
 */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/** `%text%` for a case-insensitive substring search with ILIKE. */
export function containsPattern(text: string): string {
  return `%${escapeLike(text)}%`;
}

interface PgError {
  code?: string;
  constraint?: string;
}

/** SQLSTATE codes this module turns into client errors. */
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

/** True when `error` is PostgreSQL's unique violation on `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const { code, constraint: name } = (error ?? {}) as PgError;
  return code === UNIQUE_VIOLATION && name === constraint;
}

/**
 * Turns a unique (23505) or foreign-key (23503) violation on one of the named
 * constraints into the AppError given for it; anything else is returned
 * unchanged (and so stays a 500). Matching on the constraint name keeps an
 * unexpected violation from being dressed up as a user's mistake.
 */
export function constraintError(error: unknown, byConstraint: Record<string, () => AppError>): unknown {
  const { code, constraint } = (error ?? {}) as PgError;
  if (
    (code === UNIQUE_VIOLATION || code === FOREIGN_KEY_VIOLATION) &&
    constraint &&
    byConstraint[constraint]
  ) {
    return byConstraint[constraint]();
  }
  return error;
}

/** A 422 for one field, shaped like the route helper's validation errors. */
export function fieldError(path: string, message: string): AppError {
  return new AppError('validation_failed', 'The request is not valid; see errors for each field', {
    errors: [{ path, message }],
  });
}

/**
 * SQLSTATE classes and codes that say "try again later", not "this can never
 * work": connection loss (08), insufficient resources (53), the server
 * shutting down or restarting (57P01-57P03), serialization failures and
 * deadlocks (40001, 40P01), a lock not available (55P03) and a statement
 * cancelled by a timeout (57014).
 */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03']);
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** Whether an error from the database (or the network to it) is worth retrying. */
export function isTransientError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code.startsWith('53') || TRANSIENT_SQLSTATES.has(code)) return true;
    if (TRANSIENT_NODE_CODES.has(code)) return true;
  }
  const message = error instanceof Error ? error.message : '';
  // pg's own wording when the server goes away mid-query, or the pool cannot reach it in time.
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    message,
  );
}
