import { UnrecoverableError, type Job } from 'bullmq';
import type { Kysely } from 'kysely';
import { AppError, JOBS, ReportParams, ReportScheduleParams } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import {
  computeReport,
  insertReport,
  reportModule,
  reportSchool,
  resolveReportParams,
  todayIn,
} from '@bursar/ledger';
import {
  enqueue,
  isTransientError,
  reportDuration,
  transactionWithOutbox,
  type OutboxRelay,
} from '@bursar/platform';

/** What the report processors use. */
export interface ReportContext {
  db: Kysely<DB>;
  outbox: Pick<OutboxRelay, 'kick'>;
  job: Job;
}

/** The longest error text a report keeps (what staff read on the report). */
const MAX_ERROR = 500;

function reportError(error: unknown): string {
  const text =
    error instanceof AppError ? error.detail : error instanceof Error ? error.message : String(error);
  return text.slice(0, MAX_ERROR);
}

/**
 * `kpi-report.compute`: computes a queued report and stores its result.
 * Running it again after a crash computes it again (nothing else is written
 * until the result is); a report already finished is left as it is. A
 * transient failure (the database restarting, a lost connection, a deadlock)
 * retries with backoff and is shown only once the last attempt fails; any
 * other failure is final at once, and the report shows why.
 */
export async function processComputeReport(
  { reportId }: { reportId: string },
  { db, job }: Pick<ReportContext, 'db' | 'job'>,
): Promise<{ status: string; kind?: string }> {
  const report = await db
    .selectFrom('reports')
    .select(['id', 'kind', 'params', 'status'])
    .where('id', '=', reportId)
    .executeTakeFirst();
  if (!report) throw new UnrecoverableError(`report ${reportId} no longer exists`);
  if (report.status === 'succeeded' || report.status === 'failed') return { status: report.status };
  await db
    .updateTable('reports')
    .set({ status: 'running', progress: 10, startedAt: new Date() })
    .where('id', '=', reportId)
    .where('status', 'in', ['queued', 'running'])
    .execute();
  await job.updateProgress(10);
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const params = ReportParams.parse(report.params);
    const result = await computeReport(db, params);
    await db
      .updateTable('reports')
      .set({
        status: 'succeeded',
        progress: 100,
        result: JSON.stringify(result),
        error: null,
        finishedAt: new Date(),
      })
      .where('id', '=', reportId)
      .where('status', '=', 'running')
      .execute();
    await job.updateProgress(100);
    reportDuration.observe({ kind: report.kind, outcome: 'succeeded' }, seconds());
    return { status: 'succeeded', kind: report.kind };
  } catch (error) {
    const transient = isTransientError(error);
    const last = !transient || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    reportDuration.observe({ kind: report.kind, outcome: last ? 'failed' : 'retried' }, seconds());
    if (!last) {
      // Shown as queued again while it waits for its next attempt.
      await db
        .updateTable('reports')
        .set({ status: 'queued', progress: 0 })
        .where('id', '=', reportId)
        .execute();
      throw error;
    }
    await db
      .updateTable('reports')
      .set({ status: 'failed', error: reportError(error), finishedAt: new Date() })
      .where('id', '=', reportId)
      .where('status', 'in', ['queued', 'running'])
      .execute();
    if (transient) throw error;
    throw new UnrecoverableError(reportError(error));
  }
}

/**
 * `kpi-report.scheduled`: one run of a schedule. Its parameters are resolved
 * for the run day in the school's zone (a month's collections up to today,
 * aging as of today) and the report is asked for as a request would be: a run
 * repeated for the same day and money finds the same report.
 */
export async function processScheduledReport(
  { scheduleId }: { scheduleId: string },
  { db, outbox }: Pick<ReportContext, 'db' | 'outbox'>,
): Promise<{ status: string; reportId?: string }> {
  const schedule = await db
    .selectFrom('reportSchedules')
    .select(['id', 'kind', 'params', 'createdBy'])
    .where('id', '=', scheduleId)
    .executeTakeFirst();
  // Deleted since the scheduler fired: nothing to do (the worker removes its scheduler).
  if (!schedule) return { status: 'deleted' };
  const params = ReportScheduleParams.parse(schedule.params);
  const school = await reportSchool(db, params.schoolId);
  const body = reportModule(schedule.kind as ReportParams['kind']).scheduled(
    params,
    todayIn(school.timezone),
  );
  const resolved = await resolveReportParams(db, body);
  const report = await transactionWithOutbox(db, outbox, async (trx) => {
    const row = await insertReport(trx, resolved, { requestedBy: schedule.createdBy, scheduleId });
    if (row.created) await enqueue(trx, JOBS['kpi-report.compute'], { reportId: row.id });
    return row;
  });
  return { status: report.created ? 'queued' : 'deduplicated', reportId: report.id };
}
