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
