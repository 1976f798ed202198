import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { ListReportsQuery } from '@bursar/contracts';

/** A report's row as the api shows it (the dedupe key and version are internal). */
const REPORT_COLUMNS = [
  'id',
  'kind',
  'schoolId',
  'params',
  'status',
  'progress',
  'result',
  'error',
  'scheduleId',
  'createdAt',
  'startedAt',
  'finishedAt',
] as const;

/** One report, in `scope`'s school (any school for `null`). */
export function findReport(db: Kysely<DB>, scope: string | null, id: string) {
  let query = db.selectFrom('reports').select(REPORT_COLUMNS).where('id', '=', id);
  if (scope) query = query.where('schoolId', '=', scope);
  return query.executeTakeFirst();
}

export type ReportRow = NonNullable<Awaited<ReturnType<typeof findReport>>>;

/** A page of reports, newest first, without their results, and how many match. */
export async function listReportRows(db: Kysely<DB>, scope: string | null, query: ListReportsQuery) {
  let rows = db.selectFrom('reports');
  if (scope) rows = rows.where('schoolId', '=', scope);
  if (query.kind) rows = rows.where('kind', '=', query.kind);
  if (query.status) rows = rows.where('status', '=', query.status);
  const [page, count] = await Promise.all([
    rows
      .select(REPORT_COLUMNS.filter((column) => column !== 'result'))
      .orderBy('createdAt', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    rows.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows: page.map((row) => ({ ...row, result: null })), total: Number(count.n) };
}

export function insertSchedule(
  db: Kysely<DB>,
  values: { schoolId: string; kind: string; params: unknown; cron: string; createdBy: string },
) {
  return db
    .insertInto('reportSchedules')
    .values({ ...values, params: JSON.stringify(values.params) })
    .returning(['id', 'schoolId', 'kind', 'params', 'cron', 'createdAt'])
    .executeTakeFirstOrThrow();
}

/** Schedules with their school's time zone, in `scope`'s school (any for `null`). */
function scheduleRows(db: Kysely<DB>, scope: string | null) {
  let query = db
    .selectFrom('reportSchedules')
    .innerJoin('schools', 'schools.id', 'reportSchedules.schoolId')
    .select([
      'reportSchedules.id',
      'reportSchedules.schoolId',
      'reportSchedules.kind',
      'reportSchedules.params',
      'reportSchedules.cron',
      'reportSchedules.createdAt',
      'schools.timezone',
    ]);
  if (scope) query = query.where('reportSchedules.schoolId', '=', scope);
  return query;
}

export function findSchedule(db: Kysely<DB>, scope: string | null, id: string) {
  return scheduleRows(db, scope).where('reportSchedules.id', '=', id).executeTakeFirst();
}

export async function listScheduleRows(
  db: Kysely<DB>,
  scope: string | null,
  page: { limit: number; offset: number },
) {
  let count = db.selectFrom('reportSchedules').select((eb) => eb.fn.countAll<string>().as('n'));
  if (scope) count = count.where('schoolId', '=', scope);
  const [rows, { n }] = await Promise.all([
    scheduleRows(db, scope)
      .orderBy('reportSchedules.createdAt', 'desc')
      .orderBy('reportSchedules.id')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    count.executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(n) };
}

/** Deletes a schedule in `scope`'s school; whether there was one. */
export async function deleteSchedule(db: Kysely<DB>, scope: string | null, id: string): Promise<boolean> {
  let query = db.deleteFrom('reportSchedules').where('id', '=', id);
  if (scope) query = query.where('schoolId', '=', scope);
  const deleted = await query.executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}
