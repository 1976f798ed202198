import type { Response } from 'express';
import type { Kysely } from 'kysely';
import {
  AppError,
  csvLine,
  JOBS,
  minorToDecimal,
  ReportParams,
  ReportResult,
  ReportScheduleParams,
  type CreateReportBody,
  type CreateReportScheduleBody,
  type ListReportsQuery,
  type Paginated,
  type Report,
  type ReportAccepted,
  type ReportSchedule,
  type ReportStatus,
} from '@bursar/contracts';
import type { DB } from '@bursar/db';
import {
  insertReport,
  reportModule,
  reportSchool,
  resolveReportParams,
  todayIn,
  type ReportTable,
} from '@bursar/ledger';
import {
  checkCron,
  enqueue,
  nextCronRun,
  notFound,
  readScope,
  transactionWithOutbox,
  type Caller,
  type OutboxRelay,
} from '@bursar/platform';
import {
  deleteSchedule,
  findReport,
  findSchedule,
  insertSchedule,
  listReportRows,
  listScheduleRows,
  type ReportRow,
} from './reports.repository.js';

interface ReportsContext {
  db: Kysely<DB>;
  outbox: Pick<OutboxRelay, 'kick'>;
}

/** The school a request names, if the caller may see it: staff only their own (another school's is 404, like any id). */
function requireSchool(caller: Caller, schoolId: string): string {
  if (caller.role !== 'platform_admin' && caller.schoolId !== schoolId) throw notFound('School');
  return schoolId;
}

/**
 * `POST /api/reports`: resolves the parameters (defaults, the school's "today"),
 * then records the request and queues its computation in one transaction, or
 * finds the identical report already queued, running or fresh.
 */
export async function requestReport(
  { db, outbox }: ReportsContext,
  caller: Caller,
  body: CreateReportBody,
): Promise<ReportAccepted> {
  requireSchool(caller, body.schoolId);
  const params = await resolveReportParams(db, body);
  const report = await transactionWithOutbox(db, outbox, async (trx) => {
    const row = await insertReport(trx, params, { requestedBy: caller.userId });
    if (row.created) await enqueue(trx, JOBS['kpi-report.compute'], { reportId: row.id });
    return row;
  });
  return { id: report.id, status: report.status as ReportStatus, deduplicated: !report.created };
}

function toReport(row: ReportRow): Report {
  return {
    id: row.id,
    kind: row.kind,
    schoolId: row.schoolId,
    params: ReportParams.parse(row.params),
    status: row.status as ReportStatus,
    progress: row.progress,
    result: row.result ? ReportResult.parse(row.result) : null,
    error: row.error,
    scheduleId: row.scheduleId,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

async function reportOf(db: Kysely<DB>, caller: Caller, id: string): Promise<ReportRow> {
  const row = await findReport(db, readScope(caller), id);
  if (!row) throw notFound('Report');
  return row;
}

export async function getReport(db: Kysely<DB>, caller: Caller, id: string): Promise<Report> {
  return toReport(await reportOf(db, caller, id));
}

export async function listReports(
  db: Kysely<DB>,
  caller: Caller,
  query: ListReportsQuery,
): Promise<Paginated<Omit<Report, 'result'>>> {
  const { rows, total } = await listReportRows(db, readScope(caller, query.schoolId), query);
  return {
    data: rows.map((row) => {
      const { result: _result, ...rest } = toReport(row);
      return rest;
    }),
    pagination: { limit: query.limit, offset: query.offset, total },
  };
}

/** A finished report's tables and chart, or 409 while it is not (yet) succeeded. */
export async function reportForExport(db: Kysely<DB>, caller: Caller, id: string) {
  const row = await reportOf(db, caller, id);
  if (row.status !== 'succeeded' || !row.result) {
    throw new AppError(
      'conflict',
      row.status === 'failed'
        ? `The report failed (${row.error ?? 'no reason recorded'}); there is nothing to export`
        : `The report is ${row.status}; export it once it has succeeded`,
    );
  }
  const result = ReportResult.parse(row.result);
  const module = reportModule(result.kind);
  const school = await reportSchool(db, row.schoolId);
  return {
    report: toReport(row),
    result,
    module,
    school,
    tables: module.tables(result),
    chart: module.chart(result),
  };
}

/** A cell as the CSV holds it: money as a decimal string in the school's currency, nothing for null. */
function csvValue(
  value: string | number | null,
  type: ReportTable['columns'][number]['type'],
  currency: string,
) {
  if (value === null || value === undefined) return null;
  if (type === 'money' && typeof value === 'number') return minorToDecimal(value, currency);
  return value;
}

/** The file name of an export: kind, school and the report's dates, never user text. */
export function exportName(report: Report, extension: string, section?: string): string {
  const params = report.params;
  const dates = params.kind === 'collections' ? `${params.from}_${params.to}` : params.asOf;
  return `${params.kind}${section ? `-${section}` : ''}-${dates}-${report.id.slice(0, 8)}.${extension}`;
}

/**
 * `GET /api/reports/:id/export.csv`: one table of the report (`section`, the
 * first by default), a header row of column names then one row per period
 * or line. Money as decimal strings in the school's currency (`1250.00`).
 */
export async function sendReportCsv(
  db: Kysely<DB>,
  caller: Caller,
  id: string,
  section: string | undefined,
  res: Response,
): Promise<void> {
  const { report, tables, school } = await reportForExport(db, caller, id);
  const table = section ? tables.find((candidate) => candidate.name === section) : tables[0];
  if (!table) {
    throw new AppError('validation_failed', 'The request is not valid; see errors for each field', {
      errors: [
        {
          path: 'query.section',
          message: `this report has the sections ${tables.map((candidate) => candidate.name).join(', ')}`,
        },
      ],
    });
  }
  let body = csvLine(table.columns.map((column) => column.label));
  for (const row of table.rows) {
    body += csvLine(
      table.columns.map((column) => csvValue(row[column.key] ?? null, column.type, school.currency)),
    );
  }
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${exportName(report, 'csv', table.name)}"`);
  res.setHeader('Cache-Control', 'private, no-store');
  res.send(body);
}

// ---- Schedules ----

type ScheduleRow = {
  id: string;
  schoolId: string;
  kind: string;
  params: unknown;
  cron: string;
  createdAt: Date;
};

function toSchedule(row: ScheduleRow, timezone: string): ReportSchedule {
  return {
    id: row.id,
    schoolId: row.schoolId,
    kind: row.kind as ReportSchedule['kind'],
    params: ReportScheduleParams.parse(row.params),
    cron: row.cron,
    timezone,
    nextRunAt: nextCronRun(row.cron, timezone)?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * `POST /api/report-schedules`: a report to compute on a cron in the school's
 * time zone (at most hourly). The worker turns the row into a BullMQ job
 * scheduler within its next sync (about 30 s), and again whenever Redis
 * comes back empty.
 */
export async function createReportSchedule(
  db: Kysely<DB>,
  caller: Caller,
  body: CreateReportScheduleBody,
): Promise<ReportSchedule> {
  const schoolId = requireSchool(caller, body.params.schoolId);
  const school = await reportSchool(db, schoolId);
  checkCron(body.cron, school.timezone, 'body.cron');
  if (body.kind !== 'collections' && (body.params.granularity || body.params.periods)) {
    throw new AppError('validation_failed', 'The request is not valid; see errors for each field', {
      errors: [
        { path: 'body.params', message: `granularity and periods apply to collections, not ${body.kind}` },
      ],
    });
  }
  // The parameters a run would use today must be valid now (the class is the school's, …).
  await resolveReportParams(db, reportModule(body.kind).scheduled(body.params, todayIn(school.timezone)));
  const row = await insertSchedule(db, {
    schoolId,
    kind: body.kind,
    params: body.params,
    cron: body.cron,
    createdBy: caller.userId,
  });
  return toSchedule(row, school.timezone);
}

export async function listReportSchedules(
  db: Kysely<DB>,
  caller: Caller,
  query: { schoolId?: string | undefined; limit: number; offset: number },
): Promise<Paginated<ReportSchedule>> {
  const { rows, total } = await listScheduleRows(db, readScope(caller, query.schoolId), query);
  return {
    data: rows.map((row) => toSchedule(row, row.timezone)),
    pagination: { limit: query.limit, offset: query.offset, total },
  };
}

export async function getReportSchedule(db: Kysely<DB>, caller: Caller, id: string): Promise<ReportSchedule> {
  const row = await findSchedule(db, readScope(caller), id);
  if (!row) throw notFound('Report schedule');
  return toSchedule(row, row.timezone);
}

/** `DELETE /api/report-schedules/:id`: no more runs (the worker drops its scheduler); its reports stay. */
export async function deleteReportSchedule(db: Kysely<DB>, caller: Caller, id: string): Promise<void> {
  if (!(await deleteSchedule(db, readScope(caller), id))) throw notFound('Report schedule');
}
