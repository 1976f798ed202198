/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are walked as plain JSON */
/**
 * KPI reports end to end: the api takes the request, the worker (a process of
 * its own, as deployed) computes it, the api serves the result and its
 * exports. Also dedup by parameters and money version, a report that fails
 * showing why, bad input, tenancy, and schedules kept in step with BullMQ.
 */
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError, JOBS } from '@bursar/contracts';
import { insertReport } from '@bursar/ledger';
import { createRedis, enqueue, isTransientError } from '@bursar/platform';
import {
  daysFromToday,
  freePort,
  killHard,
  pdfText,
  startWorkerProcess,
  testRedisUrl,
  waitUntil,
} from '@bursar/test-support';
import { createTestApi } from '../services/api/src/testing/harness.js';
import { syncReportSchedulers, schedulerIdOf } from '../services/worker/src/reports/schedules.js';
import { processScheduledReport } from '../services/worker/src/reports/reports.processor.js';

const api = await createTestApi();
const { db } = api;
const TZ = 'Europe/Madrid';
const schoolId = await api.createSchool({ name: 'Colegio Informe', currency: 'EUR', timezone: TZ });
await db.updateTable('schools').set({ locale: 'de-DE' }).where('id', '=', schoolId).execute();
const staff = await api.callerFor('accountant', schoolId);
const teacher = await api.callerFor('teacher', schoolId);
const otherSchool = await api.createSchool({ name: 'Other school' });
const otherStaff = await api.callerFor('accountant', otherSchool);
const build = api.build(await api.callerFor('school_admin', schoolId));

const worker = startWorkerProcess({
  DATABASE_URL: api.databaseUrl,
  REDIS_URL: testRedisUrl(),
  QUEUE_PREFIX: api.queuePrefix,
  STORAGE_DIR: api.config.STORAGE_DIR,
  PAY_LINK_SECRET: api.config.PAY_LINK_SECRET,
  WORKER_PORT: String(await freePort()),
  WORKER_QUEUES: 'kpi-report',
});
const redis = createRedis(testRedisUrl(), 'producer');
const queue = new Queue(JOBS['kpi-report.scheduled'].queue, { connection: redis, prefix: api.queuePrefix });
afterAll(async () => {
  await killHard(worker);
  await queue.close();
  redis.disconnect();
});

const today = daysFromToday(0, TZ);

// Two students, each with an overdue and a current invoice; one overdue one half paid.
const klass = await build.class();
const students = [await build.student({ classId: klass.id }), await build.student({ firstName: 'आशा' })];
const overdue = await build.invoice({
  studentId: students[0].id,
  issueDate: daysFromToday(-60, TZ),
  dueDate: daysFromToday(-45, TZ),
  lines: [
    { description: 'Tuition', quantity: 1, unitAmountMinor: 120_000, feeHead: 'Tuition' },
    { description: 'Bus', quantity: 1, unitAmountMinor: 30_000, feeHead: 'Transport' },
  ],
});
await build.payment(overdue.id, 50_000, { paidAt: new Date(Date.now() - 40 * 86_400_000).toISOString() });
await build.invoice({ studentId: students[0].id, amountMinor: 80_000, dueDate: daysFromToday(20, TZ) });
await build.invoice({
  studentId: students[1].id,
  amountMinor: 60_000,
  issueDate: daysFromToday(-10, TZ),
  dueDate: daysFromToday(-5, TZ),
});

async function finished(id: string, caller = staff) {
  let report: any;
  await waitUntil(`report ${id} to finish`, async () => {
    report = (await api.request(caller, 'GET', `/api/reports/${id}`)).body;
    return report.status === 'succeeded' || report.status === 'failed';
  });
  return report;
}

const post = (body: Record<string, unknown>, caller = staff) =>
  api.request(caller, 'POST', '/api/reports', { body });

describe('a report', () => {
  it('is computed by the worker, and an identical request finds it while nothing moved', async () => {
    const first = await post({ kind: 'aging', schoolId });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'queued', deduplicated: false });
    const again = await post({ kind: 'aging', schoolId, asOf: today });
    expect(again.body).toMatchObject({ id: first.body.id, deduplicated: true });

    const report = await finished(first.body.id);
    expect(report.status, report.error).toBe('succeeded');
    expect(report.progress).toBe(100);
    expect(report.params).toEqual({ kind: 'aging', schoolId, asOf: today });
    expect(report.result.buckets).toEqual({
      current: 80_000,
      days1To30: 60_000,
      days31To60: 100_000,
      days61To90: 0,
      days90Plus: 0,
      totalMinor: 240_000,
    });
    expect(report.result.defaulters.map((row: any) => [row.overdueMinor, row.daysOverdue])).toEqual([
      [100_000, 45],
      [60_000, 5],
    ]);
    expect(report.result.defaulters[1].firstName).toBe('आशा');

    // Still fresh after it finished: the same report again.
    expect((await post({ kind: 'aging', schoolId })).body).toMatchObject({
      id: first.body.id,
      deduplicated: true,
    });

    // Money moved: a new report, with the payment in it.
    await build.payment(overdue.id, 10_000);
    const after = await post({ kind: 'aging', schoolId });
    expect(after.body).toMatchObject({ deduplicated: false });
    expect(after.body.id).not.toBe(first.body.id);
    expect((await finished(after.body.id)).result.buckets.days31To60).toBe(90_000);

    const list = await api.request(staff, 'GET', '/api/reports?kind=aging');
    expect(list.body.data.map((row: any) => row.id)).toEqual([after.body.id, first.body.id]);
    expect(list.body.data[0]).not.toHaveProperty('result');
    expect(list.body.pagination.total).toBe(2);
  });

  it('exports as CSV with money as decimal strings, round-tripping to the same numbers', async () => {
    const { body } = await post({
      kind: 'collections',
      schoolId,
      from: daysFromToday(-70, TZ),
      to: today,
      granularity: 'week',
    });
    const report = await finished(body.id);
    expect(report.status, report.error).toBe('succeeded');
    const csv = await fetch(`${api.url}/api/reports/${body.id}/export.csv`, {
      headers: { authorization: `Bearer ${staff.token}` },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="collections-periods-/);
    const [header, ...lines] = (await csv.text()).trimEnd().split('\r\n');
    expect(header).toBe(
      'Period start,Period end,Invoiced,Collected,Refunded,Net collected,Fell due,Collection rate %,' +
        'Outstanding at end,Avg days due to paid,Payments',
    );
    expect(lines).toHaveLength(report.result.periods.length);
    const back = lines.map((line) => line.split(','));
    const cents = (text: string) => Math.round(Number(text) * 100);
    back.forEach((cells, index) => {
      const period = report.result.periods[index];
      expect(cells[0]).toBe(period.start);
      expect(cents(cells[2]!)).toBe(period.invoicedMinor);
      expect(cents(cells[3]!)).toBe(period.collectedMinor);
      expect(cents(cells[8]!)).toBe(period.outstandingMinor);
      expect(cells[2]).toMatch(/^\d+\.\d{2}$/);
    });
    expect(back.reduce((sum, cells) => sum + cents(cells[3]!), 0)).toBe(report.result.totals.collectedMinor);
    expect(report.result.totals.collectedMinor).toBe(60_000);

    const defaulters = await fetch(`${api.url}/api/reports/${body.id}/export.csv?section=defaulters`, {
      headers: { authorization: `Bearer ${staff.token}` },
    });
    expect(defaulters.status).toBe(422);
  });

  it('exports as a PDF with the chart and the table', async () => {
    const { body } = await post({ kind: 'aging', schoolId });
    await finished(body.id);
    const response = await fetch(`${api.url}/api/reports/${body.id}/export.pdf`, {
      headers: { authorization: `Bearer ${staff.token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    const text = pdfText(Buffer.from(await response.arrayBuffer()));
    expect(text).toContain('Colegio Informe');
    expect(text).toContain('Receivables aging');
    expect(text).toContain('900,00 €');
    expect(text).toContain('आशा');
  });

  it('that fails shows why, and is not retried when the error is not transient', async () => {
    // A report whose school is gone by the time the worker computes it (deleted meanwhile).
    const doomed = await api.createSchool({ name: 'Closing school', timezone: TZ });
    await db.updateTable('schools').set({ deletedAt: new Date() }).where('id', '=', doomed).execute();
    const { id } = await db.transaction().execute(async (trx) => {
      const row = await insertReport(trx, { kind: 'forecast', schoolId: doomed, asOf: today });
      await enqueue(trx, JOBS['kpi-report.compute'], { reportId: row.id });
      return row;
    });
    void api.outbox.kick();
    const report = await finished(id, api.admin);
    expect(report.status).toBe('failed');
    expect(report.error).toBe('School not found');
    expect(report.finishedAt).not.toBeNull();
    // The kpi-report queue (the schedules' and the computations'). The processor
    // writes the report's failure before BullMQ records the failed attempt, so
    // on a loaded machine the job can still be active for a moment here.
    const jobId = `kpi-report.compute.${id}`;
    await waitUntil(`job ${jobId} to be failed`, async () => (await queue.getJobState(jobId)) === 'failed');
    const job = await queue.getJob(jobId);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toBe('School not found');
    // A failed report does not hold its key: the same parameters make a new report.
    const again = await db
      .transaction()
      .execute((trx) => insertReport(trx, { kind: 'forecast', schoolId: doomed, asOf: today }));
    expect(again).toMatchObject({ created: true });
    expect(again.id).not.toBe(id);
  });

  it('tells transient database errors from the rest', () => {
    expect(isTransientError(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(
      true,
    );
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientError(Object.assign(new Error('division by zero'), { code: '22012' }))).toBe(false);
    expect(isTransientError(new AppError('not_found', 'School not found'))).toBe(false);
  });
});

describe('bad requests', () => {
  const range = { kind: 'collections', schoolId, granularity: 'month' };
  it.each([
    ['from after to', { ...range, from: today, to: daysFromToday(-1, TZ) }],
    [
      'day granularity over more than two years',
      { ...range, granularity: 'day', from: '2020-01-01', to: '2023-01-01' },
    ],
    ['an unknown kind', { kind: 'attendance', schoolId }],
    ['an asOf in the future', { kind: 'aging', schoolId, asOf: daysFromToday(2, TZ) }],
    ['a field the kind does not take', { kind: 'aging', schoolId, extra: 1 }],
  ])('%s is a 422', async (_name, body) => {
    const response = await post(body);
    expect(response.status, JSON.stringify(response.body)).toBe(422);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('an empty range answers zeros, not an error', async () => {
    const { body } = await post({ ...range, from: '2001-01-01', to: '2001-03-31' });
    const report = await finished(body.id);
    expect(report.status).toBe('succeeded');
    expect(report.result.periods).toHaveLength(3);
    expect(report.result.totals).toMatchObject({ invoicedMinor: 0, collectedMinor: 0, outstandingMinor: 0 });
  });

  it("another school's id, report or class is a 404, and a teacher is refused", async () => {
    expect((await post({ kind: 'aging', schoolId: otherSchool })).status).toBe(404);
    const mine = await post({ kind: 'aging', schoolId });
    expect((await api.request(otherStaff, 'GET', `/api/reports/${mine.body.id}`)).status).toBe(404);
    expect((await api.request(otherStaff, 'GET', `/api/reports/${mine.body.id}/export.csv`)).status).toBe(
      404,
    );
    const theirClass = await api.rows.class(otherSchool);
    expect((await post({ kind: 'aging', schoolId, classId: theirClass })).status).toBe(404);
    expect((await api.request(otherStaff, 'GET', '/api/reports')).body.data).toEqual([]);
    expect((await post({ kind: 'aging', schoolId }, teacher)).status).toBe(403);
  });
});

describe('report schedules', () => {
  it('refuse bad cron patterns and patterns more often than hourly', async () => {
    const create = (cron: string) =>
      api.request(staff, 'POST', '/api/report-schedules', {
        body: { kind: 'aging', params: { schoolId }, cron },
      });
    expect((await create('every monday')).status).toBe(422);
    expect((await create('*/5 * * * *')).status).toBe(422);
    expect((await create('61 6 * * *')).status).toBe(422);
  });

  it('become BullMQ schedulers in the school zone, come back after Redis loses them, and make reports', async () => {
    const created = await api.request(staff, 'POST', '/api/report-schedules', {
      body: { kind: 'collections', params: { schoolId, granularity: 'week', periods: 4 }, cron: '0 6 * * 1' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ timezone: TZ, cron: '0 6 * * 1' });
    const next = new Date(created.body.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    const local = Object.fromEntries(
      new Intl.DateTimeFormat('en-GB', {
        timeZone: TZ,
        hour: '2-digit',
        minute: '2-digit',
        weekday: 'short',
        hourCycle: 'h23',
      })
        .formatToParts(next)
        .map((part) => [part.type, part.value]),
    );
    expect([local.weekday, local.hour, local.minute]).toEqual(['Mon', '06', '00']);
    const id: string = created.body.id;

    expect(await syncReportSchedulers(db, queue)).toMatchObject({ upserted: 1 });
    const scheduler = await queue.getJobScheduler(schedulerIdOf(id));
    expect(scheduler).toMatchObject({ pattern: '0 6 * * 1', tz: TZ });
    expect(await syncReportSchedulers(db, queue)).toEqual({ upserted: 0, removed: 0 });
    // Redis loses it (restarted empty): the next sync puts it back.
    await queue.removeJobScheduler(schedulerIdOf(id));
    expect(await syncReportSchedulers(db, queue)).toMatchObject({ upserted: 1 });

    // A run, as the scheduler fires it: a report of the last four weeks, computed by the worker.
    const run = await processScheduledReport({ scheduleId: id }, { db, outbox: api.outbox });
    expect(run.status).toBe('queued');
    const report = await finished(run.reportId!);
    expect(report).toMatchObject({ status: 'succeeded', scheduleId: id });
    expect(report.params).toMatchObject({ granularity: 'week', to: today });
    expect(report.result.periods).toHaveLength(4);
    // The same run again (a retry, a second replica) finds the same report.
    expect(await processScheduledReport({ scheduleId: id }, { db, outbox: api.outbox })).toEqual({
      status: 'deduplicated',
      reportId: run.reportId,
    });

    expect((await api.request(otherStaff, 'GET', `/api/report-schedules/${id}`)).status).toBe(404);
    expect((await api.request(otherStaff, 'DELETE', `/api/report-schedules/${id}`)).status).toBe(404);
    const listed = await api.request(staff, 'GET', '/api/report-schedules');
    expect(listed.body.data.map((row: any) => row.id)).toEqual([id]);
    expect((await api.request(staff, 'DELETE', `/api/report-schedules/${id}`)).status).toBe(204);
    expect(await syncReportSchedulers(db, queue)).toMatchObject({ removed: 1 });
    expect(await queue.getJobScheduler(schedulerIdOf(id))).toBeUndefined();
    expect(await processScheduledReport({ scheduleId: id }, { db, outbox: api.outbox })).toEqual({
      status: 'deleted',
    });
    // Its report stays, no longer tied to it.
    expect((await api.request(staff, 'GET', `/api/reports/${run.reportId}`)).body.scheduleId).toBeNull();
  });
});
