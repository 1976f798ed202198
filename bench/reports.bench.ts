/**
 * `pnpm bench reports`: the KPI reports (collections, aging, forecast) on
 * scale-1 data, computed as the worker computes them, against the bare SQL of
 * the collections query in the same run; then one report end to end through
 * Caddy, the api and the worker, and the analytics dashboard cached and
 * uncached.
 *
 * The data is `ensureGenerated`'s (placed relative to the day it was
 * generated), so every date here is relative to today in each school's zone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import {
  Report,
  ReportAccepted,
  SchoolDashboard,
  type AgingResult,
  type CollectionsResult,
  type CreateReportBody,
  type ForecastResult,
  type ReportParams,
  type ReportResult,
} from '@bursar/contracts';
import { createDb, createPool } from '../packages/db/src/pool.js';
import { addDays, computeReport, resolveReportParams, todayIn } from '../packages/ledger/src/index.js';
import { generateSigningKeyPem, loadSigningKeys } from '../services/api/src/auth/keys.js';
import { signAccessToken } from '../services/api/src/auth/tokens.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import { ensureGenerated } from './lib/generate.js';
import { compareUrls, loadSettings, type LoadTarget } from './lib/load.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, waitForUrl, type ManagedProcess } from './lib/process.js';
import { checkRows, cpuRows, loadProblems } from './lib/report.js';
import { clearQueueKeys } from './lib/scratch-data.js';
import { REDIS_URL, startApi, startCaddy } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

/** Its own database: the run bumps school versions and writes reports rows. */
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench_reports';
const QUEUE_PREFIX = '{bursar-bench-reports}';
const SEED = 1;
/** Aims from the issue. */
const TARGETS = {
  largestSchoolMs: 1_000,
  allSchoolsMs: 3_000,
  dashboardUncachedP99Ms: 150,
  dashboardCachedP99Ms: 15,
} as const;
/** Reports computed at once for "all schools": the worker's two cores. */
const ALL_SCHOOLS_CONCURRENCY = 2;
/** `application_name`s of the reports' pool and the bare pool, whose backends' CPU is measured. */
const REPORTS_APPLICATION = 'bursar-bench-reports';
const BARE_APPLICATION = 'bursar-bench-reports-bare';

function intSetting(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new Error(`${name} must be an integer in [1, ${max}], got ${raw}`);
  return value;
}

function scaleSetting(): number {
  const raw = process.env.BENCH_SCALE;
  const scale = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 100)
    throw new Error(`BENCH_SCALE must be in (0, 100], got ${raw}`);
  return scale;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function spread(values: number[]): string {
  return `median of ${values.length} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} ms)`;
}

function target(value: number, limit: number, what: string): string {
  return `target < ${limit} ms (${what}): ${value < limit ? 'MET' : 'MISSED'}`;
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/** The day after the same date a year earlier: `from` of twelve months ending `today`. */
function twelveMonthsBefore(today: string): string {
  const date = new Date(`${today}T00:00:00Z`);
  date.setUTCFullYear(date.getUTCFullYear() - 1);
  return addDays(date.toISOString().slice(0, 10), 1);
}

interface School {
  id: string;
  timezone: string;
  students: number;
  /** Today in the school's zone when the run started (every run uses the same parameters). */
  today: string;
}

/** A report the benchmark computes, as a request body for one school. */
interface ReportCase {
  name: string;
  body(school: School): CreateReportBody;
  /** The bare SQL it is compared with (collections only): `date_trunc` unit and range. */
  bare?: { unit: 'day' | 'month'; from(school: School): string };
}

function reportCases(rangeStart: string): ReportCase[] {
  return [
    {
      name: 'collections by day, last 12 months',
      body: (s) => ({
        kind: 'collections',
        schoolId: s.id,
        granularity: 'day',
        from: twelveMonthsBefore(s.today),
        to: s.today,
      }),
      bare: { unit: 'day', from: (s) => twelveMonthsBefore(s.today) },
    },
    {
      name: 'collections by month, generated range',
      body: (s) => ({
        kind: 'collections',
        schoolId: s.id,
        granularity: 'month',
        from: rangeStart,
        to: s.today,
      }),
      bare: { unit: 'month', from: () => rangeStart },
    },
    { name: 'aging as of today', body: (s) => ({ kind: 'aging', schoolId: s.id }) },
    {
      name: 'aging as of 90 days ago',
      body: (s) => ({ kind: 'aging', schoolId: s.id, asOf: addDays(s.today, -90) }),
    },
    { name: 'forecast as of today', body: (s) => ({ kind: 'forecast', schoolId: s.id }) },
  ];
}

// ---- The bare collections query and the checks, with plain `pg`.

interface BareBucket {
  bucket: string;
  amount: bigint;
  payments: number;
}

/**
 * The bare SQL of the collections query: one school's payments in the
 * report's range (local midnights), summed by local day or month. One
 * indexed range scan and a hash aggregate; no periods, no other measures.
 */
async function bareCollections(
  pool: pg.Pool,
  school: School,
  unit: 'day' | 'month',
  from: string,
): Promise<BareBucket[]> {
  const { rows } = await pool.query<{ bucket: string; amount: string; payments: number }>(
    `select to_char(date_trunc('${unit}', paid_at at time zone $2), 'YYYY-MM-DD') as bucket,
            sum(amount_minor)::text as amount, count(*)::int as payments
       from payments
      where school_id = $1 and paid_at >= ($3::date::timestamp at time zone $2)
        and paid_at < (($4::date + 1)::timestamp at time zone $2)
      group by 1 order by 1`,
    [school.id, school.timezone, from, school.today],
  );
  return rows.map((row) => ({ bucket: row.bucket, amount: BigInt(row.amount), payments: row.payments }));
}

/** The same for every school at once (each school's zone and range): the all-schools baseline. */
async function bareCollectionsAllSchools(
  pool: pg.Pool,
  schools: School[],
  unit: 'day' | 'month',
  from: (school: School) => string,
): Promise<number> {
  const { rows } = await pool.query<{ buckets: number }>(
    `with ranges as (
       select s.id, s.timezone, (r.from_date::date::timestamp at time zone s.timezone) as start,
              ((r.to_date::date + 1)::timestamp at time zone s.timezone) as stop
         from unnest($1::uuid[], $2::text[], $3::text[]) as r(id, from_date, to_date) join schools s on s.id = r.id
     )
     select count(*)::int as buckets from (
       select p.school_id, date_trunc('${unit}', p.paid_at at time zone r.timezone), sum(p.amount_minor)
         from payments p join ranges r on r.id = p.school_id
        where p.paid_at >= r.start and p.paid_at < r.stop
        group by 1, 2) b`,
    [schools.map((s) => s.id), schools.map(from), schools.map((s) => s.today)],
  );
  return rows[0]!.buckets;
}

/** The report's collected money per period against the bare sums: the two must agree. */
function checkCollections(result: CollectionsResult, bare: BareBucket[]): string[] {
  const problems: string[] = [];
  const byStart = new Map(result.periods.map((period) => [period.start, period]));
  for (const bucket of bare) {
    // A month's bucket is its first day, as is its period's start (`from` is a first of the month).
    const period = byStart.get(bucket.bucket);
    if (!period) problems.push(`${result.granularity} ${bucket.bucket}: payments but no period`);
    else if (BigInt(period.collectedMinor) !== bucket.amount || period.payments !== bucket.payments)
      problems.push(
        `${result.granularity} ${bucket.bucket}: report ${period.collectedMinor} in ${period.payments} payments, SQL ${bucket.amount} in ${bucket.payments}`,
      );
  }
  const total = bare.reduce((sum, bucket) => sum + bucket.amount, 0n);
  if (BigInt(result.totals.collectedMinor) !== total)
    problems.push(
      `${result.granularity} total collected: report ${result.totals.collectedMinor}, SQL ${total}`,
    );
  return problems;
}

/**
 * Open balances as of the end of local day `asOf`, straight from the
 * definition (total less the allocations effective before that instant, for
 * invoices issued by then and not void by then), and what of them falls due
 * in the next 30/60/90 days.
 */
async function pointInTimeBalances(
  pool: pg.Pool,
  school: School,
  asOf: string,
): Promise<{ open: bigint; due: [bigint, bigint, bigint] }> {
  const { rows } = await pool.query<Record<'open' | 'due30' | 'due60' | 'due90', string>>(
    `with t as (select (($2::date + 1)::timestamp at time zone $3) as t),
     bal as (
       select i.due_date, i.total_minor - coalesce(sum(a.amount_minor) filter (where a.effective_at < t.t), 0) as balance
         from invoices i cross join t left join allocations a on a.invoice_id = i.id
        where i.school_id = $1 and i.issue_date <= $2 and (i.voided_at is null or i.voided_at >= t.t)
        group by i.id, i.due_date, i.total_minor
     )
     select coalesce(sum(balance), 0)::text as open,
            coalesce(sum(balance) filter (where due_date > $2::date and due_date <= $2::date + 30), 0)::text as due30,
            coalesce(sum(balance) filter (where due_date > $2::date and due_date <= $2::date + 60), 0)::text as due60,
            coalesce(sum(balance) filter (where due_date > $2::date and due_date <= $2::date + 90), 0)::text as due90
       from bal where balance > 0`,
    [school.id, asOf, school.timezone],
  );
  const row = rows[0]!;
  return { open: BigInt(row.open), due: [BigInt(row.due30), BigInt(row.due60), BigInt(row.due90)] };
}

async function checkResult(
  pool: pg.Pool,
  school: School,
  params: ReportParams,
  result: ReportResult,
  bare: BareBucket[] | undefined,
): Promise<string[]> {
  if (result.kind === 'collections') return checkCollections(result, bare ?? []);
  const balances = await pointInTimeBalances(pool, school, params.asOf);
  if (result.kind === 'aging') {
    const aging: AgingResult = result;
    const problems: string[] = [];
    if (BigInt(aging.buckets.totalMinor) !== balances.open)
      problems.push(`aging ${aging.asOf} total: report ${aging.buckets.totalMinor}, SQL ${balances.open}`);
    const { totalMinor: _total, ...buckets } = aging.buckets;
    const empty = Object.entries(buckets).filter(([, amount]) => amount <= 0);
    if (empty.length)
      problems.push(`aging ${aging.asOf}: empty buckets ${empty.map(([name]) => name).join(', ')}`);
    return problems;
  }
  const forecast: ForecastResult = result;
  return forecast.horizons.flatMap((horizon, i) =>
    BigInt(horizon.dueMinor) === balances.due[i]
      ? []
      : [`forecast ${horizon.days} days due: report ${horizon.dueMinor}, SQL ${balances.due[i]}`],
  );
}

// ---- EXPLAIN of exactly the queries the reports run.

type Db = ReturnType<typeof createDb>;
type Plugin = Parameters<Db['withPlugin']>[0];

interface Captured {
  sql: string;
  parameters: readonly unknown[];
}

/** `db` plus a plugin that keeps each query it runs, compiled as sent. */
function recording(db: Db): { db: Db; take: () => Captured[] } {
  const executor = db.getExecutor();
  let log: Captured[] = [];
  const plugin: Plugin = {
    transformQuery({ node, queryId }) {
      const compiled = executor.compileQuery(node, queryId);
      log.push({ sql: compiled.sql, parameters: compiled.parameters });
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return {
    db: db.withPlugin(plugin),
    take: () => {
      const taken = log;
      log = [];
      return taken;
    },
  };
}

/** What EXPLAIN ANALYZE said about one report's queries, summed: execution and JIT compilation time. */
interface PlanSummary {
  executionMs: number;
  jitMs: number;
}

function planSummary(plan: string): PlanSummary {
  const ms = (pattern: RegExp) => Number(pattern.exec(plan)?.[1] ?? 0);
  return { executionMs: ms(/^Execution Time: ([\d.]+) ms/m), jitMs: ms(/^ {2}Timing: .*Total ([\d.]+) ms/m) };
}

/**
 * Computes each report once for `school` and writes EXPLAIN (ANALYZE, BUFFERS)
 * of its queries to a file; returns, per report, how long its queries ran
 * under EXPLAIN and how much of that was JIT compilation (PostgreSQL compiles
 * a plan whose estimated cost passes `jit_above_cost` anew on every execution).
 */
async function explainReports(
  db: Db,
  pool: pg.Pool,
  school: School,
  cases: { name: string; params: ReportParams }[],
): Promise<{ file: string; plans: Map<string, PlanSummary> }> {
  const { db: recorded, take } = recording(db);
  const sections: string[] = [];
  const plans = new Map<string, PlanSummary>();
  for (const { name, params } of cases) {
    take();
    await computeReport(recorded, params);
    const summary: PlanSummary = { executionMs: 0, jitMs: 0 };
    for (const [i, query] of take().entries()) {
      const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
        `explain (analyze, buffers, settings) ${query.sql}`,
        query.parameters as unknown[],
      );
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      const { executionMs, jitMs } = planSummary(plan);
      summary.executionMs += executionMs;
      summary.jitMs += jitMs;
      sections.push(
        `## ${name}, query ${i + 1}\n${query.sql}\n-- parameters: ${JSON.stringify(query.parameters)}\n${plan}`,
      );
    }
    plans.set(name, summary);
  }
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'reports-explain.txt');
  writeFileSync(
    file,
    `# EXPLAIN (ANALYZE, BUFFERS, SETTINGS) of the queries computeReport runs for the largest school\n` +
      `# (${school.id}, ${school.students} students, ${school.timezone}, today ${school.today})\n\n` +
      `${sections.join('\n\n')}\n`,
  );
  return { file, plans };
}

// ---- Part 1 and 2: in-process reports and the bare query.

/** One timed run: wall time, and the CPU time PostgreSQL's backends spent on it. */
interface Sample {
  ms: number;
  cpuMs: number;
}

interface CaseTimes {
  name: string;
  largest: Sample[];
  all: Sample[];
  bareLargest?: Sample[];
  bareAll?: Sample[];
}

type Meter = (work: () => Promise<unknown>) => Promise<Sample>;

/**
 * Times `work` and sums the CPU the PostgreSQL backends of `applicationName`
 * spent meanwhile (from /proc; a backend opened meanwhile counts from zero).
 * On a machine shared with other work the wall time grows with the queue for
 * the cores; the CPU time does not, so the two together tell slow from starved.
 */
function meter(pool: pg.Pool, applicationName: string): Meter {
  const read = async () => {
    const { rows } = await pool.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and application_name = $1`,
      [applicationName],
    );
    return new Map(rows.map(({ pid }) => [pid, processCpuSeconds(pid) ?? 0]));
  };
  return async (work) => {
    const before = await read();
    const { ms } = await timed(work);
    const after = await read();
    let seconds = 0;
    for (const [pid, cpu] of after) seconds += cpu - (before.get(pid) ?? 0);
    return { ms, cpuMs: seconds * 1000 };
  };
}

const wall = (samples: Sample[]) => median(samples.map((sample) => sample.ms));
const cpu = (samples: Sample[]) => median(samples.map((sample) => sample.cpuMs));

/** Every school's report, `ALL_SCHOOLS_CONCURRENCY` at a time, largest first. */
function allSchools(db: Db, params: ReportParams[]): () => Promise<void> {
  return async () => {
    let next = 0;
    const lane = async () => {
      while (next < params.length) await computeReport(db, params[next++]!);
    };
    await Promise.all(Array.from({ length: ALL_SCHOOLS_CONCURRENCY }, lane));
  };
}

async function measureReports(
  db: Db,
  pool: pg.Pool,
  schools: School[],
  cases: ReportCase[],
  options: { repeat: number; repeatAll: number; log: (line: string) => void },
): Promise<{ times: CaseTimes[]; resolved: Map<string, ReportParams[]> }> {
  const largest = schools[0]!;
  const times: CaseTimes[] = [];
  const resolved = new Map<string, ReportParams[]>();
  const problems: string[] = [];
  const reportMeter = meter(pool, REPORTS_APPLICATION);
  const bareMeter = meter(pool, BARE_APPLICATION);
  const repeat = async (count: number, measure: Meter, work: () => Promise<unknown>) => {
    const samples: Sample[] = [];
    for (let i = 0; i < count; i++) samples.push(await measure(work));
    return samples;
  };
  for (const reportCase of cases) {
    const params = await Promise.all(schools.map((s) => resolveReportParams(db, reportCase.body(s))));
    resolved.set(reportCase.name, params);
    const own = params[0]!;
    // The first run warms the plan cache and the pages it reads; it is checked, not timed.
    const first = await computeReport(db, own);
    const bare = reportCase.bare
      ? await bareCollections(pool, largest, reportCase.bare.unit, reportCase.bare.from(largest))
      : undefined;
    problems.push(
      ...(await checkResult(pool, largest, own, first, bare)).map((p) => `${reportCase.name}: ${p}`),
    );

    const entry: CaseTimes = {
      name: reportCase.name,
      largest: await repeat(options.repeat, reportMeter, () => computeReport(db, own)),
      all: [],
    };
    if (reportCase.bare) {
      const { unit, from } = reportCase.bare;
      entry.bareLargest = await repeat(options.repeat, bareMeter, () =>
        bareCollections(pool, largest, unit, from(largest)),
      );
      await bareCollectionsAllSchools(pool, schools, unit, from);
      entry.bareAll = await repeat(options.repeatAll, bareMeter, () =>
        bareCollectionsAllSchools(pool, schools, unit, from),
      );
    }
    entry.all = await repeat(options.repeatAll, reportMeter, allSchools(db, params));
    options.log(
      `    ${reportCase.name.padEnd(40)} largest ${wall(entry.largest).toFixed(0).padStart(5)} ms (cpu ${cpu(entry.largest).toFixed(0)})` +
        `  all schools ${wall(entry.all).toFixed(0).padStart(6)} ms (cpu ${cpu(entry.all).toFixed(0)})` +
        (entry.bareLargest
          ? `  bare ${wall(entry.bareLargest).toFixed(0)} / ${wall(entry.bareAll!).toFixed(0)} ms`
          : ''),
    );
    times.push(entry);
  }
  if (problems.length) throw new Error(`reports disagree with SQL:\n  ${problems.join('\n  ')}`);
  return { times, resolved };
}

function reportRows(
  times: CaseTimes[],
  schools: School[],
  plans: Map<string, PlanSummary>,
  jitNote: string,
): BenchRow[] {
  const largest = schools[0]!;
  return times.flatMap((entry) => {
    const plan = plans.get(entry.name);
    const planNote = plan
      ? `; under EXPLAIN ANALYZE ${plan.executionMs.toFixed(0)} ms, of which JIT compilation ${plan.jitMs.toFixed(0)} ms (${jitNote})`
      : '';
    const unit = entry.name.includes('by day') ? 'day' : 'month';
    const bareNote = `baseline: the bare SQL (the school's payments by local ${unit}, same range, plain pg)`;
    const wallLargest = wall(entry.largest);
    const wallAll = wall(entry.all);
    return [
      {
        metric: `${entry.name}, largest school`,
        unit: 'ms',
        value: wallLargest,
        ...(entry.bareLargest ? { baseline: wall(entry.bareLargest) } : {}),
        better: 'lower' as const,
        note:
          `${largest.students} students; computeReport, ${spread(entry.largest.map((x) => x.ms))}; ` +
          target(wallLargest, TARGETS.largestSchoolMs, 'largest school') +
          planNote +
          (entry.bareLargest ? `; ${bareNote}` : ''),
      },
      {
        metric: `${entry.name}, largest school, PostgreSQL CPU`,
        unit: 'ms',
        value: cpu(entry.largest),
        ...(entry.bareLargest ? { baseline: cpu(entry.bareLargest) } : {}),
        better: 'lower' as const,
        note: 'CPU of the backend that ran it, median; wall well above it means the run waited for a core',
      },
      {
        metric: `${entry.name}, all ${schools.length} schools`,
        unit: 'ms',
        value: wallAll,
        ...(entry.bareAll ? { baseline: wall(entry.bareAll) } : {}),
        better: 'lower' as const,
        note:
          `wall time, ${ALL_SCHOOLS_CONCURRENCY} at a time, largest first, ${spread(entry.all.map((x) => x.ms))}; ` +
          `PostgreSQL CPU ${cpu(entry.all).toFixed(0)} ms; ` +
          target(wallAll, TARGETS.allSchoolsMs, 'all schools') +
          (entry.bareAll ? '; baseline: the bare SQL for every school in one query (one core)' : ''),
      },
    ];
  });
}

// ---- Parts 3 and 4: through Caddy, the api and the worker.

async function bumpVersion(pool: pg.Pool, schoolId: string): Promise<void> {
  // Upsert: the generator loads students with triggers off, so a school may have no row yet.
  await pool.query(
    `insert into school_stats (school_id, version) values ($1, 1)
     on conflict (school_id) do update set version = school_stats.version + 1`,
    [schoolId],
  );
}

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  return { status: response.status, body: await response.text() };
}

function missingRoute(what: string, status: number, body: string): Error {
  return new Error(
    `${what} answered ${status} ${body.slice(0, 200)}; if the route is not built yet, ` +
      'BENCH_REPORTS_SKIP_HTTP=1 runs the in-process parts only',
  );
}

/** POST /api/reports (largest school's aging as of today), then GET /api/reports/:id until it succeeded. */
async function endToEnd(
  edge: string,
  headers: Record<string, string>,
  pool: pg.Pool,
  school: School,
  expected: AgingResult,
  baselineMs: number,
): Promise<BenchRow[]> {
  // A report identical to one already computed at this money version is answered from it, not computed.
  await bumpVersion(pool, school.id);
  const started = performance.now();
  const posted = await request(`${edge}/api/reports`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'aging', schoolId: school.id }),
  });
  if (posted.status !== 202) throw missingRoute('POST /api/reports', posted.status, posted.body);
  const accepted = ReportAccepted.parse(JSON.parse(posted.body));
  if (accepted.deduplicated)
    throw new Error(`POST /api/reports was deduplicated after a version bump: ${posted.body}`);
  const postedMs = performance.now() - started;
  const deadline = Date.now() + 120_000;
  // Only the status is read while polling; the whole report (its result lists every defaulter) is
  // validated once the clock has stopped.
  let final: { body: string; ms: number };
  for (;;) {
    const { ms, value: got } = await timed(() => request(`${edge}/api/reports/${accepted.id}`, { headers }));
    if (got.status !== 200) throw missingRoute(`GET /api/reports/${accepted.id}`, got.status, got.body);
    const { status } = JSON.parse(got.body) as { status: string };
    if (status === 'succeeded' || status === 'failed') {
      final = { body: got.body, ms };
      break;
    }
    if (Date.now() > deadline) throw new Error(`report ${accepted.id} still ${status} after 120 s`);
    await sleep(20);
  }
  const totalMs = performance.now() - started;
  const report = Report.parse(JSON.parse(final.body));
  if (report.status === 'failed') throw new Error(`report ${accepted.id} failed: ${report.error}`);
  const result = report.result;
  if (result?.kind !== 'aging' || JSON.stringify(result.buckets) !== JSON.stringify(expected.buckets))
    throw new Error(
      `the worker's aging (${JSON.stringify(result && 'buckets' in result ? result.buckets : result)}) ` +
        `differs from computeReport's (${JSON.stringify(expected.buckets)})`,
    );
  const at = (iso: string | null) => (iso ? Date.parse(iso) : NaN);
  const queuedMs = at(report.startedAt) - at(report.createdAt);
  const computeMs = at(report.finishedAt) - at(report.startedAt);
  return [
    {
      metric: 'aging as of today, largest school, end to end',
      unit: 'ms',
      value: totalMs,
      baseline: baselineMs,
      better: 'lower',
      note:
        `POST /api/reports through Caddy until GET /api/reports/:id says succeeded (polled every 20 ms), once; ` +
        `202 after ${postedMs.toFixed(0)} ms; created→started ${queuedMs.toFixed(0)} ms (outbox relay, BullMQ); ` +
        `started→finished ${computeMs.toFixed(0)} ms in the worker (its first report); ` +
        `the last GET ${final.ms.toFixed(0)} ms for ${(final.body.length / 1024).toFixed(0)} KiB; ` +
        'baseline: computeReport in-process (median above)',
    },
  ];
}

interface Dashboard {
  url: string;
  headers: Record<string, string>;
}

async function sequentialLatencies(
  dashboard: Dashboard,
  count: number,
  before?: () => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    await before?.();
    const { ms, value } = await timed(() => request(dashboard.url, { headers: dashboard.headers }));
    if (value.status !== 200)
      throw new Error(`GET ${dashboard.url}: ${value.status} ${value.body.slice(0, 200)}`);
    latencies.push(ms);
  }
  return latencies;
}

/**
 * The dashboard uncached (the school's version bumped before each request,
 * one request at a time) against the same requests cached, then cached under
 * load against `/api/healthz` through the same Caddy.
 */
async function dashboardRows(
  edge: string,
  dashboard: Dashboard,
  pool: pg.Pool,
  school: School,
  probes: { api: ManagedProcess; caddy: ManagedProcess },
  options: { uncached: number; log: (line: string) => void },
): Promise<BenchRow[]> {
  const first = await request(dashboard.url, { headers: dashboard.headers });
  if (first.status !== 200) throw missingRoute('GET /api/analytics/dashboard', first.status, first.body);
  const parsed = SchoolDashboard.parse(JSON.parse(first.body));
  if (parsed.schoolId !== school.id)
    throw new Error(`the dashboard is school ${parsed.schoolId}'s, not ${school.id}'s`);

  options.log(`  dashboard uncached: ${options.uncached} requests, version bumped before each`);
  // A few of each first: the api's first computations compile and connect.
  await sequentialLatencies(dashboard, 10, () => bumpVersion(pool, school.id));
  const uncached = await sequentialLatencies(dashboard, options.uncached, () => bumpVersion(pool, school.id));
  const cachedSequential = await sequentialLatencies(dashboard, options.uncached);

  const settings = loadSettings(process.env, reports.loadDefaults);
  options.log(`  dashboard cached under load (${settings.connections} connections) vs /api/healthz`);
  const dashboardTarget: LoadTarget = {
    url: dashboard.url,
    label: 'GET /api/analytics/dashboard (largest school, cached)',
    headers: dashboard.headers,
  };
  const { value, baseline } = await compareUrls(
    { value: dashboardTarget, baseline: `${edge}/api/healthz` },
    {
      settings,
      log: options.log,
      cpuProbes: {
        api: () => processCpuSeconds(probes.api.pid),
        caddy: () => processCpuSeconds(probes.caddy.pid),
        loadgen: selfCpuSeconds,
      },
    },
  );
  const rows: BenchRow[] = [
    {
      metric: 'dashboard uncached p50',
      unit: 'ms',
      value: percentile(uncached, 50),
      baseline: percentile(cachedSequential, 50),
      better: 'lower',
      note: `${uncached.length} requests one at a time, school_stats.version bumped before each (not timed); baseline: the same requests cached`,
    },
    {
      metric: 'dashboard uncached p99',
      unit: 'ms',
      value: percentile(uncached, 99),
      baseline: percentile(cachedSequential, 99),
      better: 'lower',
      note: target(percentile(uncached, 99), TARGETS.dashboardUncachedP99Ms, 'uncached p99'),
    },
    {
      metric: 'dashboard cached throughput',
      unit: 'req/s',
      value: value.reqPerSec,
      baseline: baseline.reqPerSec,
      better: 'higher',
      note: `${settings.connections} connections, ${settings.durationSec} s; baseline: GET /api/healthz through the same Caddy`,
    },
    {
      metric: 'dashboard cached p50',
      unit: 'ms',
      value: value.p50Ms,
      baseline: baseline.p50Ms,
      better: 'lower',
    },
    {
      metric: 'dashboard cached p99',
      unit: 'ms',
      value: value.p99Ms,
      baseline: baseline.p99Ms,
      better: 'lower',
      note:
        `${target(value.p99Ms, TARGETS.dashboardCachedP99Ms, 'cached p99')}; one request at a time cached p99 ` +
        `${percentile(cachedSequential, 99).toFixed(1)} ms. At ${settings.connections} connections one api thread queues ` +
        `them: ${settings.connections} in flight / ${value.reqPerSec.toFixed(0)} req/s = ${((settings.connections / value.reqPerSec) * 1000).toFixed(0)} ms mean`,
    },
    ...cpuRows(
      value,
      baseline,
      [
        { label: 'api', value: 'api' },
        { label: 'caddy', value: 'caddy' },
        { label: 'load generator', value: 'loadgen' },
      ],
      'dashboard cached ',
    ),
    ...checkRows(value, baseline, 'dashboard cached '),
  ];
  const bad = loadProblems({ dashboard: value, healthz: baseline });
  if (bad.length) {
    throw new BenchFailure(
      `reports: ${bad.join(', ')} (status codes ${JSON.stringify(value.statusCodes)}); see bench/results/reports-*.log`,
      rows,
    );
  }
  return rows;
}

/** Starts the api, a worker (kpi-report only) and Caddy, runs parts 3 and 4, and stops them. */
async function throughTheStack(
  pool: pg.Pool,
  school: School,
  expectedAging: AgingResult,
  agingMs: number,
  log: (line: string) => void,
): Promise<BenchRow[]> {
  await clearQueueKeys(QUEUE_PREFIX);
  const { rows: users } = await pool.query<{ id: string }>(
    `insert into users (id, school_id, email, name, password_hash, role)
     values (overlay(overlay(md5('bench:reports-accountant') placing '8' from 13) placing '8' from 17)::uuid, $1,
             'reports-accountant@bench.test', 'Reports Bench Accountant', '!bench-no-login', 'accountant')
     on conflict (id) do update set school_id = excluded.school_id
     returning id`,
    [school.id],
  );
  const pem = await generateSigningKeyPem();
  const keys = await loadSigningKeys({ pem, keyFile: '/dev/null', production: false });
  // Access tokens live 15 minutes; this part takes about one.
  const token = await signAccessToken(keys, { sub: users[0]!.id, role: 'accountant', schoolId: school.id });
  const headers = { authorization: `Bearer ${token}` };

  const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-reports-'));
  const started: ManagedProcess[] = [];
  try {
    const [apiPort, workerPort, edgePort] = await freePorts(3);
    if (apiPort === undefined || workerPort === undefined || edgePort === undefined)
      throw new Error('no free ports');
    const serviceEnv = {
      QUEUE_PREFIX,
      JWT_PRIVATE_KEY: pem,
      STORAGE_DIR: join(scratch, 'storage'),
    };
    const api = startApi({
      port: apiPort,
      databaseUrl: DATABASE_URL,
      scratch,
      logFile: join(resultsDir, 'reports-api.log'),
      env: serviceEnv,
    });
    started.push(api);
    const worker = startProcess({
      name: 'worker',
      command: process.execPath,
      args: ['--import', 'tsx', '--import', '@bursar/platform/register-telemetry', 'src/main.ts'],
      cwd: join(repoRoot, 'services/worker'),
      env: {
        ...process.env,
        ...serviceEnv,
        NODE_ENV: 'development',
        DATABASE_URL,
        REDIS_URL,
        WORKER_PORT: String(workerPort),
        WORKER_QUEUES: 'kpi-report',
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_SERVICE_NAME: 'bursar-worker',
      },
      logFile: join(resultsDir, 'reports-worker.log'),
    });
    started.push(worker);
    await waitForUrl(`http://127.0.0.1:${apiPort}/api/readyz`, { process: api, timeoutMs: 60_000 });
    await waitForUrl(`http://127.0.0.1:${workerPort}/readyz`, { process: worker, timeoutMs: 60_000 });
    const caddy = startCaddy({
      port: edgePort,
      apiUpstream: `127.0.0.1:${apiPort}`,
      scratch,
      logFile: join(resultsDir, 'reports-caddy.log'),
    });
    started.push(caddy);
    const edge = `http://127.0.0.1:${edgePort}`;
    await waitForUrl(`${edge}/api/healthz`, { process: caddy, timeoutMs: 30_000 });

    log('  end to end: POST /api/reports → worker → GET /api/reports/:id');
    const rows = await endToEnd(edge, headers, pool, school, expectedAging, agingMs);
    rows.push(
      ...(await dashboardRows(
        edge,
        { url: `${edge}/api/analytics/dashboard?schoolId=${school.id}`, headers },
        pool,
        school,
        { api, caddy },
        { uncached: intSetting('BENCH_REPORTS_UNCACHED', 200, 10_000), log },
      )),
    );
    for (const proc of started) {
      if (proc.hasExited())
        throw new Error(`${proc.name} exited during the measurement; see ${proc.logFile}`);
    }
    return rows;
  } finally {
    for (const proc of started.reverse()) await proc.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const reports: Benchmark = {
  name: 'reports',
  description:
    'collections/aging/forecast computed as the worker does, largest school and all schools (value) vs the bare collections SQL (baseline); one report end to end; the dashboard cached and uncached',
  loadDefaults: { connections: 16 },
  async run() {
    const log = (line: string) => console.error(line);
    const repeat = intSetting('BENCH_REPORTS_REPEAT', 5, 100);
    const repeatAll = intSetting('BENCH_REPORTS_REPEAT_ALL', 3, 100);
    const skipHttp = process.env.BENCH_REPORTS_SKIP_HTTP === '1';
    await ensureGenerated({ databaseUrl: DATABASE_URL, scale: scaleSetting(), seed: SEED, log });
    const db = createDb(DATABASE_URL, { max: 4, applicationName: REPORTS_APPLICATION });
    // Plain pg for the bare query, the checks and EXPLAIN, with the services' session settings
    // (`createPool`: no parallel workers, no JIT), so value and baseline differ only in the SQL.
    const pool = createPool(DATABASE_URL, { max: 2, applicationName: BARE_APPLICATION });
    const rows: BenchRow[] = [];
    try {
      const { rows: settings } = await pool.query<{ jit: string }>('show jit');
      const jitNote = `jit = ${settings[0]!.jit}`;
      const now = new Date();
      const { rows: found } = await pool.query<{ id: string; timezone: string; students: number }>(
        `select s.id, s.timezone, count(st.id)::int as students
           from schools s join students st on st.school_id = s.id
          where s.deleted_at is null group by s.id order by 3 desc, 1`,
      );
      const schools: School[] = found.map((s) => ({ ...s, today: todayIn(s.timezone, now) }));
      const largest = schools[0];
      if (!largest) throw new Error('no students generated');
      const { rows: range } = await pool.query<{ start: string }>(
        `select to_char(date_trunc('month', min(issue_date)), 'YYYY-MM-DD') as start from invoices`,
      );
      const cases = reportCases(range[0]!.start);
      log(
        `  ${schools.length} schools; largest ${largest.id} (${largest.students} students, ${largest.timezone}, today ${largest.today}); ` +
          `months from ${range[0]!.start}`,
      );

      log(
        `  reports in-process (computeReport), ${repeat} runs for the largest school, ${repeatAll} for all schools`,
      );
      const { times, resolved } = await measureReports(db, pool, schools, cases, { repeat, repeatAll, log });
      const explained = await explainReports(
        db,
        pool,
        largest,
        cases.map((c) => ({ name: c.name, params: resolved.get(c.name)![0]! })),
      );
      for (const [name, plan] of explained.plans)
        log(
          `    EXPLAIN ${name.padEnd(40)} ${plan.executionMs.toFixed(0).padStart(5)} ms, JIT ${plan.jitMs.toFixed(0)} ms`,
        );
      log(`    plans: ${explained.file}`);
      rows.push(...reportRows(times, schools, explained.plans, jitNote));

      if (skipHttp) {
        log('  BENCH_REPORTS_SKIP_HTTP=1: end to end and dashboard skipped');
        return rows;
      }
      const agingCase = cases.find((c) => c.name === 'aging as of today')!;
      const agingParams = resolved.get(agingCase.name)![0]!;
      const expectedAging = (await computeReport(db, agingParams)) as AgingResult;
      const agingMs = wall(times.find((t) => t.name === agingCase.name)!.largest);
      try {
        rows.push(...(await throughTheStack(pool, largest, expectedAging, agingMs, log)));
      } catch (error) {
        if (error instanceof BenchFailure) throw new BenchFailure(error.message, [...rows, ...error.rows]);
        // The in-process rows are printed anyway; an unexpected error keeps its stack.
        throw new BenchFailure(error instanceof Error ? (error.stack ?? error.message) : String(error), rows);
      }
      return rows;
    } finally {
      await db.destroy();
      await pool.end();
    }
  },
};

export default reports;
