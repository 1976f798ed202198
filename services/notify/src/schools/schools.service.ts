import type { Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import { fieldError, notFound, writeSchool, type Caller } from '@bursar/platform';
import { lockSchool } from './schools.repository.js';

/**
 * The live school a new row goes into, locked FOR SHARE: the caller's own
 * (staff never name one), or the `schoolId` a platform admin names, or the
 * school the rest of the request already implies (`inferred`, e.g. a
 * campaign's template). A school that does not exist is a 422 on the field a
 * platform admin typed, a 404 for staff (their school was deleted).
 */
export async function schoolForWrite(
  trx: Transaction<DB>,
  caller: Caller,
  requested: string | undefined,
  inferred?: string,
): Promise<string> {
  const schoolId = writeSchool(caller, requested, inferred);
  if (!(await lockSchool(trx, schoolId, 'share'))) {
    if (caller.role === 'platform_admin' && !inferred) throw fieldError('body.schoolId', 'no such school');
    throw notFound('School');
  }
  return schoolId;
}
