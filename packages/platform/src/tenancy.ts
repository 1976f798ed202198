import { AppError } from '@bursar/contracts';
import type { Caller } from './auth.js';
import { fieldError } from './sql.js';

/**
 * The school a caller's reads are limited to: their own, or for a platform
 * admin the `schoolId` they asked for (or every school when they did not).
 */
export function readScope(caller: Caller, requested?: string): string | null {
  if (caller.role === 'platform_admin') return requested ?? null;
  return caller.schoolId;
}

/**
 * The school a new row belongs to. Staff write into their own school and may
 * not name one (422: the field is not theirs to set). A platform admin names
 * it, unless the row's parent already says (`inferred`, e.g. a student's
 * school for their invoice): then a `schoolId` that contradicts it is a 422.
 */
export function writeSchool(caller: Caller, requested: string | undefined, inferred?: string): string {
  if (caller.role === 'platform_admin') {
    if (inferred) {
      if (requested !== undefined && requested !== inferred) {
        throw fieldError('body.schoolId', 'does not match the school the rest of the request belongs to');
      }
      return inferred;
    }
    if (!requested) throw fieldError('body.schoolId', 'required for platform admins');
    return requested;
  }
  if (requested !== undefined) throw fieldError('body.schoolId', 'only a platform admin may set schoolId');
  return caller.schoolId!;
}

/** 404 (not 403) when a row belongs to another school, so ids from other schools do not leak. */
export function notFound(entity: string): AppError {
  return new AppError('not_found', `${entity} not found`);
}
