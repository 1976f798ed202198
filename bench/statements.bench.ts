import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SchoolStatementQuery, type SchoolStatement, type StudentStatement } from '@bursar/contracts';
import { createDb } from '../packages/db/src/pool.js';
import { studentStatementQuery } from '../packages/ledger/src/statements.js';
import { generateSigningKeyPem, loadSigningKeys } from '../services/api/src/auth/keys.js';
import { signAccessToken } from '../services/api/src/auth/tokens.js';
import {
  getSchoolStatement,
  getStudentStatement,
} from '../services/api/src/statements/statements.service.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import {
  cpuProfileSetup,
  formatCpuProfileSummary,
  profiled,
  summarizeCpuProfile,
} from './lib/cpu-profile.js';
import { ensureGenerated, prng } from './lib/generate.js';
import {
  compareUrls,
  loadSettings,
  runLoad,
  type CpuProbes,
  type LoadResult,
  type LoadTarget,
} from './lib/load.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, waitForUrl, type ManagedProcess } from './lib/process.js';
import { checkRows, cpuRows, loadProblems, type CpuRowSpec } from './lib/report.js';
import { startApi, startCaddy } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

/** Its own database: generating scale 1 takes minutes, and other benchmarks may want other data in theirs. */
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench_statements';
const SEED = 1;
/** Targets from the issue. */
const TARGETS = { studentP99Ms: 50, studentThroughputRatio: 0.5, schoolP99Ms: 100 } as const;
/** How many student statements the profile replays, one at a time, after the load runs. */
const PROFILE_SAMPLES = 200;

/**
 * BENCH_API_REPLICAS: how many api processes run behind Caddy (default 1), as production scales
 * the stateless services. The bare baseline stays one process.
 */
function replicasSetting(): number {
  const raw = process.env.BENCH_API_REPLICAS;
  const replicas = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16)
    throw new Error(`BENCH_API_REPLICAS must be an integer in [1, 16], got ${raw}`);
  return replicas;
}

function scaleSetting(): number {
  const raw = process.env.BENCH_SCALE;
  const scale = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 100)
    throw new Error(`BENCH_SCALE must be in (0, 100], got ${raw}`);
  return scale;
}

/**
 * The root Caddyfile with one more route, `handle /bare/* → {$BARE_UPSTREAM}`, next to
 * `/api/*`: the bare server sits behind the same Caddy process, the same site and the same
 * header and body-limit directives as the api, so the comparison differs only in what is
 * behind the proxy.
 */
function benchCaddyfile(): string {
  const source = readFileSync(join(repoRoot, 'Caddyfile'), 'utf8');
  const anchor = /^([ \t]*)handle \/api\/\* \{$/m;
  if (!anchor.test(source)) {
    throw new Error(
      'the root Caddyfile has no `handle /api/* {` line to add /bare/* next to; update benchCaddyfile()',
    );
  }
  return source.replace(
    anchor,
    (line, indent: string) =>
      `${indent}handle /bare/* {\n${indent}\treverse_proxy {$BARE_UPSTREAM}\n${indent}}\n${line}`,
  );
}

/** Random student ids, the same sequence for value and baseline in each round (see `LoadTarget.pathPicker`). */
function studentPaths(ids: string[], path: (id: string) => string) {
  return (run: number) => {
    const random = prng(SEED * 7919 + run);
    return () => path(ids[Math.floor(random() * ids.length)]!);
  };
}

/**
 * CPU seconds of this database's backends serving `applicationName` (the api's or the bare server's
 * pool), as a counter that never goes down: each backend ever seen keeps its last reading. Summing
 * only the backends connected now is not one — `pg` pools close clients idle for 10 s, so the
 * side not under load loses backends between readings and its "delta" came out negative. A
 * backend's CPU between its last reading and its exit is still lost (under-reported, never over).
 */
function backendsCpu(pool: pg.Pool, applicationName: string): () => Promise<number | undefined> {
  const lastSeen = new Map<number, number>();
  let reused = 0; // CPU of earlier backends whose pid a new backend now has
  return async () => {
    const { rows } = await pool.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and application_name = $1`,
      [applicationName],
    );
    for (const { pid } of rows) {
      const seconds = processCpuSeconds(pid);
      if (seconds === undefined) continue;
      const before = lastSeen.get(pid);
      if (before !== undefined && seconds < before) reused += before;
      lastSeen.set(pid, seconds);
    }
    return [...lastSeen.values()].reduce((total, seconds) => total + seconds, reused);
  };
}

function targetRow(
  metric: string,
  result: { value: number; limit: number; unit: string; below: boolean },
): string {
  const met = result.below ? result.value < result.limit : result.value >= result.limit;
  return `target ${result.below ? '<' : '>='} ${result.limit}${result.unit}: ${met ? 'MET' : 'MISSED'} (${metric})`;
}

function mustEqual(what: string, actual: unknown, expected: unknown, problems: string[]): void {
  if (String(actual) !== String(expected)) problems.push(`${what}: api says ${actual}, SQL says ${expected}`);
}

/** Compares one student's statement (through Caddy) with sums over the raw rows. */
async function checkStudentStatement(pool: pg.Pool, statement: StudentStatement): Promise<string[]> {
  const { rows } = await pool.query<Record<string, string>>(
    `select (select coalesce(sum(total_minor) filter (where voided_at is null), 0) from invoices where student_id = $1) as invoiced,
            (select coalesce(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null), 0)
               from invoices where student_id = $1) as balance,
            (select coalesce(sum(amount_minor), 0) from payments where student_id = $1) as paid,
            (select coalesce(sum(refunded_minor), 0) from payments where student_id = $1) as refunded,
            (select count(*) from invoices where student_id = $1) as invoices,
            (select count(*) from payments where student_id = $1) as payments,
            (select count(*) from refunds r join payments p on p.id = r.payment_id where p.student_id = $1) as refunds`,
    [statement.student.id],
  );
  const sql = rows[0]!;
  const problems: string[] = [];
  const { totals } = statement;
  mustEqual('invoiced', totals.invoicedMinor, sql.invoiced, problems);
  mustEqual('balance', totals.balanceMinor, sql.balance, problems);
  mustEqual('paid', totals.paidMinor, sql.paid, problems);
  mustEqual('refunded', totals.refundedMinor, sql.refunded, problems);
  mustEqual('credit', totals.creditMinor, 0, problems);
  mustEqual('invoices listed', statement.invoices.length, sql.invoices, problems);
  const payments = statement.invoices.flatMap((invoice) => invoice.payments);
  mustEqual('payments listed', payments.length, sql.payments, problems);
  mustEqual('refunds listed', payments.flatMap((payment) => payment.refunds).length, sql.refunds, problems);
  const invoiceBalances = statement.invoices.reduce((total, invoice) => total + invoice.balanceMinor, 0);
  mustEqual('sum of invoice balances', invoiceBalances, sql.balance, problems);
  return problems;
}

/** Compares a school's statement with sums over the raw rows, aging judged on the statement's own asOf. */
async function checkSchoolStatement(pool: pg.Pool, statement: SchoolStatement): Promise<string[]> {
  const { rows } = await pool.query<Record<string, string>>(
    `with open as (
       select total_minor - paid_minor + refunded_minor as balance, $2::date - due_date as overdue
       from invoices where school_id = $1 and voided_at is null and total_minor - paid_minor + refunded_minor > 0
     )
     select (select coalesce(sum(total_minor) filter (where voided_at is null), 0) from invoices where school_id = $1) as invoiced,
            (select coalesce(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null), 0)
               from invoices where school_id = $1) as balance,
            (select coalesce(sum(amount_minor), 0) from payments where school_id = $1) as paid,
            (select coalesce(sum(refunded_minor), 0) from payments where school_id = $1) as refunded,
            (select count(*) from students where school_id = $1 and status = 'active') as active,
            (select count(*) from students where school_id = $1) as students,
            (select coalesce(sum(balance) filter (where overdue <= 0), 0) from open) as current,
            (select coalesce(sum(balance) filter (where overdue between 1 and 30), 0) from open) as d30,
            (select coalesce(sum(balance) filter (where overdue between 31 and 60), 0) from open) as d60,
            (select coalesce(sum(balance) filter (where overdue between 61 and 90), 0) from open) as d90,
            (select coalesce(sum(balance) filter (where overdue > 90), 0) from open) as d90plus`,
    [statement.schoolId, statement.asOf],
  );
  const sql = rows[0]!;
  const problems: string[] = [];
  const { totals, aging } = statement;
  mustEqual('school invoiced', totals.invoicedMinor, sql.invoiced, problems);
  mustEqual('school balance', totals.balanceMinor, sql.balance, problems);
  mustEqual('school paid', totals.paidMinor, sql.paid, problems);
  mustEqual('school refunded', totals.refundedMinor, sql.refunded, problems);
  mustEqual('school credit', totals.creditMinor, 0, problems);
  mustEqual('active students', statement.studentsCount, sql.active, problems);
  mustEqual('students total', statement.students.pagination.total, sql.students, problems);
  mustEqual('aging current', aging.current, sql.current, problems);
  mustEqual('aging 1-30', aging.days1To30, sql.d30, problems);
  mustEqual('aging 31-60', aging.days31To60, sql.d60, problems);
  mustEqual('aging 61-90', aging.days61To90, sql.d90, problems);
  mustEqual('aging 90+', aging.days90Plus, sql.d90plus, problems);
  const buckets = Object.values(aging).reduce((total, amount) => total + amount, 0);
  mustEqual('aging buckets sum to the balance', buckets, sql.balance, problems);
  for (const bucket of ['current', 'days1To30', 'days31To60', 'days61To90', 'days90Plus'] as const) {
    if (aging[bucket] <= 0) problems.push(`aging ${bucket} is empty: the data should populate every bucket`);
  }
  return problems;
}

async function fetchJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${body.slice(0, 300)}`);
  return JSON.parse(body) as T;
}

// ---- Profile: the api's own statement code, run in this process on a Kysely that records every query.

type Db = ReturnType<typeof createDb>;
type Plugin = Parameters<Db['withPlugin']>[0];

interface Captured {
  sql: string;
  parameters: readonly unknown[];
  ms: number;
}

/** `db` plus a plugin that compiles each query it runs (exactly as sent) and times it. */
function recording(db: Db): { db: Db; take: () => Captured[] } {
  const executor = db.getExecutor();
  let log: Captured[] = [];
  const open = new WeakMap<object, { entry: Captured; started: number }>();
  const plugin: Plugin = {
    transformQuery({ node, queryId }) {
      const compiled = executor.compileQuery(node, queryId);
      const entry: Captured = { sql: compiled.sql, parameters: compiled.parameters, ms: NaN };
      log.push(entry);
      open.set(queryId, { entry, started: performance.now() });
      return node;
    },
    async transformResult({ result, queryId }) {
      const pending = open.get(queryId);
      if (pending) pending.entry.ms = performance.now() - pending.started;
      return result;
    },
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

/** "students+schools" for `select … from "students" inner join "schools" …`. */
function queryLabel(sql: string): string {
  const tables = [...sql.matchAll(/\b(?:from|join)\s+"?([a-z_]+)"?/gi)].map((m) => m[1]!);
  return [...new Set(tables)].join('+') || sql.slice(0, 30);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface QueryStats {
  label: string;
  meanMs: number;
  p99Ms: number;
}

function statsOf(calls: Captured[][]): QueryStats[] {
  const count = Math.max(...calls.map((queries) => queries.length));
  return Array.from({ length: count }, (_, i) => {
    const times = calls.map((queries) => queries[i]?.ms ?? NaN).filter(Number.isFinite);
    const first = calls.find((queries) => queries[i])?.[i];
    return {
      label: `q${i + 1} ${first ? queryLabel(first.sql) : '?'}`,
      meanMs: times.reduce((a, b) => a + b, 0) / (times.length || 1),
      p99Ms: percentile(times, 99),
    };
  });
}

async function explain(pool: pg.Pool, queries: Captured[]): Promise<string> {
  const sections: string[] = [];
  for (const [i, query] of queries.entries()) {
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
      `explain (analyze, buffers, settings) ${query.sql}`,
      query.parameters as unknown[],
    );
    sections.push(
      `-- q${i + 1} ${queryLabel(query.sql)}\n${query.sql}\n-- parameters: ${JSON.stringify(query.parameters)}\n` +
        rows.map((row) => row['QUERY PLAN']).join('\n'),
    );
  }
  return sections.join('\n\n');
}

interface Profile {
  student: { calls: number; callMeanMs: number; callP99Ms: number; queries: QueryStats[] };
  school: { calls: number; callMeanMs: number; callP99Ms: number; queries: QueryStats[] };
  bare: { meanMs: number; p99Ms: number };
  explainFile: string;
}

/**
 * Runs the api's statement service in-process, one request at a time (no load), recording
 * each query's SQL and wall time, then EXPLAIN (ANALYZE, BUFFERS) one student's and the
 * school's queries into bench/results/statements-explain.txt.
 */
async function profile(
  pool: pg.Pool,
  studentIds: string[],
  schoolId: string,
  sampleStudent: string,
): Promise<Profile> {
  const base = createDb(DATABASE_URL, { applicationName: 'bursar-bench-profile' });
  const { db, take } = recording(base);
  try {
    const random = prng(SEED * 104729);
    const pickStudent = () => studentIds[Math.floor(random() * studentIds.length)]!;
    const schoolQuery = SchoolStatementQuery.parse({});
    // A few unrecorded calls first: the first one compiles and connects.
    for (let i = 0; i < 5; i++) {
      await getStudentStatement(base, null, pickStudent(), {});
      await getSchoolStatement(db, null, schoolId, schoolQuery);
    }
    take();
    const studentCalls: Captured[][] = [];
    const studentTimes: number[] = [];
    // Today's student statement is one prepared statement on the pool (`preparedQuery`), which a
    // recording Kysely cannot see: it is timed on the api's own kind of Kysely, as one query.
    for (let i = 0; i < PROFILE_SAMPLES; i++) {
      const started = performance.now();
      await getStudentStatement(base, null, pickStudent(), {});
      const ms = performance.now() - started;
      studentTimes.push(ms);
      studentCalls.push([{ sql: studentStatementQuery(base).text, parameters: [], ms }]);
    }
    const schoolCalls: Captured[][] = [];
    const schoolTimes: number[] = [];
    for (let i = 0; i < PROFILE_SAMPLES / 4; i++) {
      const started = performance.now();
      await getSchoolStatement(db, null, schoolId, schoolQuery);
      schoolTimes.push(performance.now() - started);
      schoolCalls.push(take());
    }
    const bareTimes: number[] = [];
    for (let i = 0; i < PROFILE_SAMPLES; i++) {
      const started = performance.now();
      await pool.query(
        `select id, number, currency, issue_date, due_date, total_minor, paid_minor, refunded_minor, voided_at
         from invoices where student_id = $1 order by due_date, number`,
        [pickStudent()],
      );
      bareTimes.push(performance.now() - started);
    }

    const studentQueries: Captured[] = [
      {
        sql: studentStatementQuery(base).text,
        parameters: [sampleStudent, null, new Date().toISOString(), null, null, null, true],
        ms: NaN,
      },
    ];
    await getSchoolStatement(db, null, schoolId, schoolQuery);
    const schoolQueries = take();
    const explainFile = join(resultsDir, 'statements-explain.txt');
    writeFileSync(
      explainFile,
      `# EXPLAIN (ANALYZE, BUFFERS) of the queries the api runs, captured from its own code\n` +
        `# (services/api/src/statements/statements.service.ts + packages/ledger/src/statements.ts)\n\n` +
        `## GET /api/students/${sampleStudent}/statement\n\n${await explain(pool, studentQueries)}\n\n` +
        `## GET /api/schools/${schoolId}/statement\n\n${await explain(pool, schoolQueries)}\n`,
    );
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / (values.length || 1);
    return {
      student: {
        calls: studentTimes.length,
        callMeanMs: mean(studentTimes),
        callP99Ms: percentile(studentTimes, 99),
        queries: statsOf(studentCalls),
      },
      school: {
        calls: schoolTimes.length,
        callMeanMs: mean(schoolTimes),
        callP99Ms: percentile(schoolTimes, 99),
        queries: statsOf(schoolCalls),
      },
      bare: { meanMs: mean(bareTimes), p99Ms: percentile(bareTimes, 99) },
      explainFile,
    };
  } finally {
    await base.destroy();
  }
}

function loadRows(prefix: string, value: LoadResult, baseline: LoadResult, specs: CpuRowSpec[]): BenchRow[] {
  return [
    {
      metric: `${prefix}throughput`,
      unit: 'req/s',
      value: value.reqPerSec,
      baseline: baseline.reqPerSec,
      better: 'higher',
    },
    {
      metric: `${prefix}latency p50`,
      unit: 'ms',
      value: value.p50Ms,
      baseline: baseline.p50Ms,
      better: 'lower',
    },
    {
      metric: `${prefix}latency p99`,
      unit: 'ms',
      value: value.p99Ms,
      baseline: baseline.p99Ms,
      better: 'lower',
    },
    ...cpuRows(value, baseline, specs, prefix),
    ...checkRows(value, baseline, prefix),
  ];
}

const statements: Benchmark = {
  name: 'statements',
  description:
    'student and school statements through Caddy (value) vs a bare express+pg route behind the same Caddy (baseline), scale-1 data',
  loadDefaults: { connections: 32 },
  async run() {
    const settings = loadSettings(process.env, statements.loadDefaults);
    const scale = scaleSetting();
    const replicas = replicasSetting();
    const replicasNote =
      replicas === 1 ? '1 api process vs 1 bare process' : `${replicas} api replicas vs 1 bare process`;
    const log = (line: string) => console.error(line);
    await ensureGenerated({ databaseUrl: DATABASE_URL, scale, seed: SEED, log });

    const pool = new pg.Pool({
      connectionString: DATABASE_URL,
      max: 2,
      application_name: 'bursar-bench-statements',
    });
    const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-statements-'));
    // BENCH_CPU_PROFILE=1: after the measurements, one more load run per endpoint with the api's
    // V8 profiler on, summarized into bench/results/statements-cpuprofile-*.txt.
    const cpuProfileDir = process.env.BENCH_CPU_PROFILE === '1' ? join(scratch, 'cpuprofile') : undefined;
    const started: ManagedProcess[] = [];
    try {
      // The callers: the generated platform admin (statements of every school) and an accountant of
      // the largest school, both real users rows.
      const { rows: schools } = await pool.query<{ id: string; students: number }>(
        `select school_id as id, count(*)::int as students from students group by 1 order by 2 desc, 1 limit 1`,
      );
      const largest = schools[0];
      if (!largest) throw new Error('no students generated');
      const { rows: accountants } = await pool.query<{ id: string }>(
        `insert into users (id, school_id, email, name, password_hash, role)
         values (overlay(overlay(md5('bench:statements-accountant') placing '8' from 13) placing '8' from 17)::uuid, $1, 'statements-accountant@bench.test',
                 'Statements Bench Accountant', '!bench-no-login', 'accountant')
         on conflict (id) do update set school_id = excluded.school_id
         returning id`,
        [largest.id],
      );
      const { rows: admins } = await pool.query<{ id: string }>(
        `select id from users where role = 'platform_admin' order by id limit 1`,
      );
      const accountantId = accountants[0]!.id;
      const adminId = admins[0]?.id;
      if (!adminId) throw new Error('no platform admin generated');
      const { rows: students } = await pool.query<{ id: string }>(`select id from students order by id`);
      const studentIds = students.map((row) => row.id);
      // A student with a refund, so the sanity check covers every part of a statement.
      const { rows: samples } = await pool.query<{ id: string }>(
        `select p.student_id as id from refunds r join payments p on p.id = r.payment_id order by r.id limit 1`,
      );
      const sampleStudent = samples[0]?.id ?? studentIds[0]!;

      const pem = await generateSigningKeyPem();
      const keys = await loadSigningKeys({ pem, keyFile: '/dev/null', production: false });
      // Access tokens live 15 minutes; a run takes about two.
      const adminToken = await signAccessToken(keys, {
        sub: adminId,
        role: 'platform_admin',
        schoolId: null,
      });
      const accountantToken = await signAccessToken(keys, {
        sub: accountantId,
        role: 'accountant',
        schoolId: largest.id,
      });

      const ports = await freePorts(replicas + 2);
      const [barePort, edgePort, ...apiPorts] = ports;
      if (ports.length !== replicas + 2 || barePort === undefined || edgePort === undefined)
        throw new Error('no free ports');
      // One api process per port; only the first is profilable (BENCH_CPU_PROFILE=1), so the others
      // carry no inspector session.
      const apis = apiPorts.map((port, i) => {
        const profiling = cpuProfileDir && i === 0 ? cpuProfileSetup(cpuProfileDir) : undefined;
        const api = startApi({
          port,
          databaseUrl: DATABASE_URL,
          scratch,
          logFile: join(resultsDir, i === 0 ? 'statements-api.log' : `statements-api-${i + 1}.log`),
          env: { JWT_PRIVATE_KEY: pem, ...profiling?.env },
          ...(profiling ? { nodeArgs: profiling.nodeArgs } : {}),
        });
        started.push(api);
        return api;
      });
      await Promise.all(
        apis.map((api, i) =>
          waitForUrl(`http://127.0.0.1:${apiPorts[i]}/api/healthz`, { process: api, timeoutMs: 60_000 }),
        ),
      );
      const api = apis[0]!;
      const bare = startProcess({
        name: 'bare',
        command: process.execPath,
        args: ['--import', 'tsx', 'bench/lib/bare-server.ts'],
        cwd: repoRoot,
        env: { ...process.env, BARE_PORT: String(barePort), DATABASE_URL },
        logFile: join(resultsDir, 'statements-bare.log'),
      });
      started.push(bare);
      await waitForUrl(`http://127.0.0.1:${barePort}/bare/healthz`, { process: bare, timeoutMs: 30_000 });
      const caddyfile = join(scratch, 'Caddyfile');
      writeFileSync(caddyfile, benchCaddyfile());
      const caddy = startCaddy({
        port: edgePort,
        // Caddy substitutes {$API_UPSTREAM} before tokenising, so a space-separated list is several
        // upstreams of one reverse_proxy (load-balanced at random, Caddy's default policy).
        apiUpstream: apiPorts.map((port) => `127.0.0.1:${port}`).join(' '),
        scratch,
        logFile: join(resultsDir, 'statements-caddy.log'),
        caddyfile,
        env: { BARE_UPSTREAM: `127.0.0.1:${barePort}` },
      });
      started.push(caddy);
      const edge = `http://127.0.0.1:${edgePort}`;
      await waitForUrl(`${edge}/api/healthz`, { process: caddy, timeoutMs: 30_000 });
      await waitForUrl(`${edge}/bare/healthz`, { process: caddy, timeoutMs: 30_000 });

      // Sanity: one student's and the school's statement, through Caddy, against sums over the raw rows.
      const studentStatement = await fetchJson<StudentStatement>(
        `${edge}/api/students/${sampleStudent}/statement`,
        adminToken,
      );
      const schoolStatement = await fetchJson<SchoolStatement>(
        `${edge}/api/schools/${largest.id}/statement`,
        accountantToken,
      );
      const bareAnswer = await fetchJson<{ invoices: unknown[] }>(
        `${edge}/bare/students/${sampleStudent}/invoices`,
      );
      const problems = [
        ...(await checkStudentStatement(pool, studentStatement)),
        ...(await checkSchoolStatement(pool, schoolStatement)),
      ];
      mustEqual(
        'bare route invoices',
        bareAnswer.invoices.length,
        studentStatement.invoices.length,
        problems,
      );
      if (problems.length) throw new Error(`statements disagree with SQL:\n  ${problems.join('\n  ')}`);
      log(
        `  sanity: student ${sampleStudent} (${studentStatement.invoices.length} invoices, ` +
          `${studentStatement.invoices.flatMap((i) => i.payments).length} payments) and school ${largest.id} ` +
          `(${largest.students} students, asOf ${schoolStatement.asOf}) match SQL`,
      );

      const cpuProbes: CpuProbes = {
        // Every replica: CPU per request is the whole api's, however many processes serve it.
        api: () => {
          const seconds = apis.map((replica) => processCpuSeconds(replica.pid));
          return seconds.every((s) => s !== undefined) ? seconds.reduce((a, b) => a + b, 0) : undefined;
        },
        bare: () => processCpuSeconds(bare.pid),
        caddy: () => processCpuSeconds(caddy.pid),
        'pg(api)': backendsCpu(pool, 'bursar-api'),
        'pg(bare)': backendsCpu(pool, 'bursar-bench-bare'),
        loadgen: selfCpuSeconds,
      };
      const bareTarget: LoadTarget = {
        url: edge,
        label: 'bare GET /bare/students/:id/invoices (random students)',
        pathPicker: studentPaths(studentIds, (id) => `/bare/students/${id}/invoices`),
      };
      const studentTarget: LoadTarget = {
        url: edge,
        label: 'GET /api/students/:id/statement (random students)',
        headers: { authorization: `Bearer ${adminToken}` },
        pathPicker: studentPaths(studentIds, (id) => `/api/students/${id}/statement`),
      };
      const schoolTarget: LoadTarget = {
        url: `${edge}/api/schools/${largest.id}/statement`,
        label: `GET /api/schools/:id/statement (largest school, ${largest.students} students)`,
        headers: { authorization: `Bearer ${accountantToken}` },
      };
      const specs: CpuRowSpec[] = [
        {
          label: replicas === 1 ? 'node (api vs bare)' : `node (${replicas} api replicas vs bare)`,
          value: 'api',
          baseline: 'bare',
          ...(replicas === 1 ? {} : { note: `summed over the ${replicas} api replicas` }),
        },
        { label: 'postgres (api vs bare backends)', value: 'pg(api)', baseline: 'pg(bare)' },
        { label: 'caddy', value: 'caddy' },
        { label: 'load generator', value: 'loadgen' },
      ];

      log('  (a) student statement vs (b) bare route');
      const student = await compareUrls(
        { value: studentTarget, baseline: bareTarget },
        { settings, cpuProbes, log },
      );
      log('  (c) school statement vs bare route');
      const school = await compareUrls(
        { value: schoolTarget, baseline: bareTarget },
        { settings, cpuProbes, log },
      );
      for (const proc of started) {
        if (proc.hasExited())
          throw new Error(`${proc.name} exited during the measurement; see ${proc.logFile}`);
      }

      if (cpuProfileDir) {
        for (const [name, target] of [
          ['student', studentTarget],
          ['school', schoolTarget],
        ] as const) {
          log(`  cpu profile: ${target.label} (${settings.durationSec}s)`);
          const { result, file } = await profiled(api, cpuProfileDir, () =>
            runLoad(target, settings.connections, settings.durationSec, 99),
          );
          // With several replicas only the first is profiled; Caddy picks upstreams at random, so it
          // served about 1/N of the responses (an estimate: the per-response numbers are approximate).
          const responses = Math.round(result.responses / replicas);
          const text = formatCpuProfileSummary(summarizeCpuProfile(file, 25), responses);
          const out = join(resultsDir, `statements-cpuprofile-${name}.txt`);
          // The raw profile opens in Chrome DevTools (Performance) or speedscope.
          copyFileSync(file, join(resultsDir, `statements-cpuprofile-${name}.cpuprofile`));
          writeFileSync(
            out,
            `# api CPU profile, ${target.label}, ${Math.round(result.reqPerSec)} req/s` +
              (replicas === 1
                ? ''
                : ` through ${replicas} replicas; replica 1 profiled, per-response figures assume it served 1/${replicas} (${responses})`) +
              `\n${text}\n`,
          );
          log(
            text
              .split('\n')
              .slice(0, 16)
              .map((line) => `    ${line}`)
              .join('\n'),
          );
          log(`    full summary: ${out}`);
        }
      }

      log('  profile: the api statement code in-process, one request at a time, then EXPLAIN');
      const prof = await profile(pool, studentIds, largest.id, sampleStudent);
      for (const [name, part] of [
        ['student', prof.student],
        ['school', prof.school],
      ] as const) {
        log(
          `    ${name} statement: ${part.callMeanMs.toFixed(2)} ms mean, ${part.callP99Ms.toFixed(2)} ms p99 per call`,
        );
        for (const query of part.queries)
          log(
            `      ${query.label.padEnd(28)} ${query.meanMs.toFixed(2).padStart(7)} ms mean  ${query.p99Ms.toFixed(2).padStart(7)} ms p99`,
          );
      }
      log(`    bare query: ${prof.bare.meanMs.toFixed(2)} ms mean, ${prof.bare.p99Ms.toFixed(2)} ms p99`);
      log(`    plans: ${prof.explainFile}`);

      const studentRows = loadRows('student statement ', student.value, student.baseline, specs);
      const schoolRows = loadRows('school statement ', school.value, school.baseline, specs);
      const noteOn = (rows: BenchRow[], metric: string, note: string) => {
        const row = rows.find((r) => r.metric === metric);
        if (row) row.note = row.note ? `${row.note}; ${note}` : note;
      };
      noteOn(studentRows, 'student statement throughput', replicasNote);
      noteOn(schoolRows, 'school statement throughput', replicasNote);
      noteOn(
        studentRows,
        'student statement throughput',
        targetRow('ratio to bare', {
          value: student.value.reqPerSec / student.baseline.reqPerSec,
          limit: TARGETS.studentThroughputRatio,
          unit: '',
          below: false,
        }),
      );
      noteOn(
        studentRows,
        'student statement latency p99',
        targetRow('value', {
          value: student.value.p99Ms,
          limit: TARGETS.studentP99Ms,
          unit: ' ms',
          below: true,
        }),
      );
      noteOn(
        schoolRows,
        'school statement latency p99',
        targetRow('value', {
          value: school.value.p99Ms,
          limit: TARGETS.schoolP99Ms,
          unit: ' ms',
          below: true,
        }),
      );
      noteOn(
        schoolRows,
        'school statement throughput',
        'baseline: the bare student route (there is no bare school statement)',
      );
      const profileRows: BenchRow[] = [
        {
          metric: 'student statement in-process call, no load',
          unit: 'ms',
          value: prof.student.callMeanMs,
          baseline: prof.bare.meanMs,
          better: 'lower',
          note: `mean of ${prof.student.calls} calls of the api's getStudentStatement (${prof.student.queries.length} prepared query, the JSON built by PostgreSQL) vs the bare query; plans in ${prof.explainFile}`,
        },
        {
          metric: 'school statement in-process call, no load',
          unit: 'ms',
          value: prof.school.callMeanMs,
          baseline: prof.bare.meanMs,
          better: 'lower',
          note: `mean of ${prof.school.calls} calls of getSchoolStatement (${prof.school.queries.length} queries); plans in ${prof.explainFile}`,
        },
      ];
      const rows = [...studentRows, ...schoolRows, ...profileRows];

      const bad = loadProblems({
        'student statements': student.value,
        'bare (vs student)': student.baseline,
        'school statements': school.value,
        'bare (vs school)': school.baseline,
      });
      if (bad.length) {
        const codes = JSON.stringify({
          student: student.value.statusCodes,
          school: school.value.statusCodes,
          bare: student.baseline.statusCodes,
        });
        throw new BenchFailure(
          `statements: ${bad.join(', ')} (status codes ${codes}); see bench/results/statements-*.log`,
          rows,
        );
      }
      return rows;
    } finally {
      for (const proc of started.reverse()) await proc.stop();
      await pool.end();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default statements;
