import { createHash } from 'node:crypto';
import { AppError, ReportParams, type CreateReportBody } from '@bursar/contracts';
import { sql } from 'kysely';
import type { Db, Trx } from '../db.js';
import { todayIn } from '../dates.js';
import { reportSchool } from './scope.js';

/**
 * A request's parameters with its defaults applied, checked against the
 * school: `asOf` defaults to today in the school's zone and may not be after
 * it; a class must be the school's (another school's is 404, like any id).
 */
export async function resolveReportParams(
  db: Db,
  body: CreateReportBody,
  now: Date = new Date(),
): Promise<ReportParams> {
  const school = await reportSchool(db, body.schoolId);
  const today = todayIn(school.timezone, now);
  if (body.asOf && body.asOf > today) {
    throw new AppError(
      'validation_failed',
      `asOf ${body.asOf} is in the future (today is ${today} in ${school.timezone})`,
      {
        errors: [{ path: 'asOf', message: 'must not be after today in the school’s time zone' }],
      },
    );
  }
  if (body.classId) {
    const found = await db
      .selectFrom('classes')
      .select('id')
      .where('id', '=', body.classId)
      .where('schoolId', '=', school.id)
      .executeTakeFirst();
    if (!found) throw new AppError('not_found', 'Class not found');
  }
  const narrowing = {
    schoolId: school.id,
    ...(body.classId ? { classId: body.classId } : {}),
    ...(body.feeHead ? { feeHead: body.feeHead } : {}),
  };
  const asOf = body.asOf ?? today;
  if (body.kind === 'collections') {
    return ReportParams.parse({
      kind: body.kind,
      ...narrowing,
      from: body.from,
      to: body.to,
      granularity: body.granularity,
      asOf,
    });
  }
  return ReportParams.parse({ kind: body.kind, ...narrowing, asOf });
}

/** JSON with keys in a fixed order, so equal parameters hash equally. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The school's money version: moved by a trigger on every change to its students' money (school_stats). */
export async function moneyVersion(db: Db, schoolId: string): Promise<bigint> {
  const row = await db
    .selectFrom('schoolStats')
    .select('version')
    .where('schoolId', '=', schoolId)
    .executeTakeFirst();
  return row?.version ?? 0n;
}

/**
 * Records a report request, or finds the identical one: same kind, school and
 * resolved parameters at the same money version, and not failed (queued,
 * running, or done and still fresh because nothing moved since). `created`
 * says whether the caller must queue the computation, in this transaction.
 */
export async function insertReport(
  trx: Trx,
  params: ReportParams,
  options: { requestedBy?: string | null; scheduleId?: string | null } = {},
): Promise<{ id: string; status: string; created: boolean }> {
  const version = await moneyVersion(trx, params.schoolId);
  const dedupeKey = createHash('sha256')
    .update(`${canonical(params)}|${version}`)
    .digest('hex');
  const inserted = await trx
    .insertInto('reports')
    .values({
      schoolId: params.schoolId,
      kind: params.kind,
      params: JSON.stringify(params),
      dedupeKey,
      moneyVersion: version,
      requestedBy: options.requestedBy ?? null,
      scheduleId: options.scheduleId ?? null,
    })
    .onConflict((conflict) =>
      conflict.column('dedupeKey').where(sql.ref('status'), '<>', 'failed').doNothing(),
    )
    .returning(['id', 'status'])
    .executeTakeFirst();
  if (inserted) return { ...inserted, created: true };
  const existing = await trx
    .selectFrom('reports')
    .select(['id', 'status'])
    .where('dedupeKey', '=', dedupeKey)
    .where('status', '<>', 'failed')
    .executeTakeFirst();
  // Failed between the insert and this read: ask again (the key is free now).
  if (!existing) return insertReport(trx, params, options);
  return { ...existing, created: false };
}
