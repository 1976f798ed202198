/**
 * `pnpm bench overhead`: what the platform costs per request (issue 12). The api
 * as `pnpm start` runs it, with tracing exported to a local stand-in collector,
 * straight to the process (no Caddy), against a bare express 5 app answering
 * the same JSON bodies:
 *
 * 1. `GET /healthz`: request id, request log line, metrics; no span (the http
 *    instrumentation ignores health checks), no database.
 * 2. `GET /api/me` with a valid access token (from one real login): the same,
 *    plus token verification, the user-status check, the route builder, a
 *    sampled trace exported over OTLP and one `users` query.
 *
 * The bare app is this file started again as its own process (`BENCH_OVERHEAD_BARE_PORT`), so
 * its CPU is measured apart from the load generator's and the bodies it serves are the api's.
 */
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { migrate } from '../packages/db/src/cli.js';
import { createDb } from '../packages/db/src/pool.js';
import { hashPassword } from '../services/api/src/auth/password.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import {
  cpuProfileSetup,
  formatCpuProfileSummary,
  profiled,
  summarizeCpuProfile,
  type CpuProfileSummary,
} from './lib/cpu-profile.js';
import { backendsCpu } from './lib/cpu-sampler.js';
import { compareUrls, loadSettings, runLoad, type CpuProbes, type LoadResult } from './lib/load.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, waitForUrl, type ManagedProcess } from './lib/process.js';
import { checkRows, cpuRows, loadProblems } from './lib/report.js';
import { startApi } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

/** The benchmarks' shared small database (also `edge`'s): never the developer's `bursar`. */
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench';
/** Aims from issue 12: the api's share of bare express's req/s. */
const AIMS = { healthz: 0.7, me: 0.5 } as const;

/** The caller of `/api/me`: an accountant of a school of the benchmark's own, fixed ids so reruns reuse them. */
const SCHOOL_ID = '0b0e0c0a-0000-4000-8000-00000000000c';
const USER_ID = '0b0e0c0a-0000-4000-8000-00000000000a';
const EMAIL = 'overhead-accountant@bench.test';
const PASSWORD = 'overhead-bench-password';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// The bare side: express 5 with nothing but the routes. It runs when this file is the entry point.

/**
 * The baseline: express 5, `res.json` of the api's own bodies (`/healthz` computed as the api
 * computes it, `/api/me` the body the api answered), no middleware. ETags are off as in the api,
 * so both answer the same headers' worth of work bar the request id.
 */
async function serveBare(port: number, meBody: unknown): Promise<void> {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: 'api', uptimeSeconds: Math.round(process.uptime()) });
  });
  app.get('/api/me', (_req, res) => {
    res.json(meBody);
  });
  const server = app.listen(port, '127.0.0.1', () => console.log(`bare listening on ${port}`));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => server.close(() => process.exit(0)));
  }
}

const barePort = Number(process.env.BENCH_OVERHEAD_BARE_PORT);
if (process.argv[1] && resolve(process.argv[1]) === SELF && barePort > 0) {
  await serveBare(barePort, JSON.parse(process.env.BENCH_OVERHEAD_ME_BODY ?? 'null'));
}

// ---------------------------------------------------------------------------------------------
// The benchmark.

/**
 * Stands in for the OpenTelemetry Collector: answers every OTLP export 200 and keeps nothing,
 * so the api pays for building, batching and sending spans as it would in production. It runs in
 * the runner, so its (small) CPU is in the load generator's row.
 */
async function startDiscardingCollector(): Promise<{ url: string; server: Server; exports: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    exports: () => count,
  };
}

/** The school and accountant `/api/me` answers for, with a real argon2 hash of a known password. */
async function ensureCaller(): Promise<void> {
  const db = createDb(DATABASE_URL, { max: 1, applicationName: 'bursar-bench-overhead' });
  try {
    const passwordHash = await hashPassword(PASSWORD);
    await sql`
      insert into schools (id, name, currency, timezone)
      values (${SCHOOL_ID}, 'Overhead Bench School', 'INR', 'Asia/Kolkata')
      on conflict (id) do nothing
    `.execute(db);
    await sql`
      insert into users (id, school_id, email, name, password_hash, role)
      values (${USER_ID}, ${SCHOOL_ID}, ${EMAIL}, 'Overhead Bench Accountant', ${passwordHash}, 'accountant')
      on conflict (id) do update set password_hash = excluded.password_hash, status = 'active'
    `.execute(db);
  } finally {
    await db.destroy();
  }
}

/** Logs in once, as a client would, and returns the access token. */
async function logIn(apiBase: string): Promise<string> {
  const response = await fetch(`${apiBase}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  const body = (await response.json()) as { accessToken?: string };
  if (response.status !== 200 || !body.accessToken)
    throw new Error(`login answered ${response.status}: ${JSON.stringify(body)}`);
  return body.accessToken;
}

async function getText(url: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text}`);
  return text;
}

/** Both sides must answer the same body, or the comparison is not of the same work. */
async function checkSameBodies(api: string, bare: string, token: string): Promise<void> {
  const withoutUptime = (text: string) => JSON.stringify({ ...JSON.parse(text), uptimeSeconds: 0 });
  const [apiHealth, bareHealth] = [await getText(`${api}/healthz`), await getText(`${bare}/healthz`)];
  if (withoutUptime(apiHealth) !== withoutUptime(bareHealth))
    throw new Error(`/healthz bodies differ: api ${apiHealth}, bare ${bareHealth}`);
  const auth = { authorization: `Bearer ${token}` };
  const [apiMe, bareMe] = [await getText(`${api}/api/me`, auth), await getText(`${bare}/api/me`)];
  if (apiMe !== bareMe) throw new Error(`/api/me bodies differ: api ${apiMe}, bare ${bareMe}`);
}

function comparisonRows(
  prefix: string,
  value: LoadResult,
  baseline: LoadResult,
  aim: number,
  pgCpu: boolean,
): BenchRow[] {
  const ratio = value.reqPerSec / baseline.reqPerSec;
  return [
    {
      metric: `${prefix}throughput`,
      unit: 'req/s',
      value: value.reqPerSec,
      baseline: baseline.reqPerSec,
      better: 'higher',
      note: `aim ≥ ${aim.toFixed(2)} of bare express: ${ratio >= aim ? 'met' : 'NOT met'} (${ratio.toFixed(2)})`,
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
    ...cpuRows(
      value,
      baseline,
      [
        { label: 'node', value: 'api', baseline: 'bare', note: 'api process vs bare express process' },
        ...(pgCpu
          ? [
              {
                label: 'PostgreSQL',
                value: 'pg(api)',
                // No such probe: the bare app has no database, so the row has no baseline.
                baseline: 'none',
                note: "the api's backends (the users lookup); the bare app has no database, so no ratio",
              },
            ]
          : []),
        {
          label: 'load generator',
          value: 'loadgen',
          note: 'autocannon and the OTLP stand-in, in the runner',
        },
      ],
      prefix,
    ),
    ...checkRows(value, baseline, prefix),
  ];
}

/** A package name in a function key from `summarizeCpuProfile` (`name pkg:file:line`), as `packageOf` named it. */
function packageOfKey(key: string): string {
  // Node's own modules are `node core:node:<module>:<line>`: the package name has a space, the file a colon.
  if (key.includes(' node core:')) return 'node core';
  const where = key.slice(key.lastIndexOf(' ') + 1);
  const match = /^(.+):[^:]+:\d+$/.exec(where);
  if (match && key.includes(' ')) return match[1]!;
  return key.startsWith('(') ? key : '(native)';
}

/**
 * The top self-time functions under each of the busiest packages, so a reader sees which
 * functions of, say, `@opentelemetry/instrumentation-http` or `pino` the microseconds go to.
 */
export function formatByPackage(
  all: CpuProfileSummary,
  responses: number,
  packages = 12,
  perPackage = 5,
): string {
  const us = (ms: number) => `${((ms * 1000) / responses).toFixed(1).padStart(6)} µs/req`;
  const groups = new Map<string, { ms: number; functions: { name: string; ms: number }[] }>();
  for (const share of all.selfTop) {
    const name = packageOfKey(share.name);
    const group = groups.get(name) ?? { ms: 0, functions: [] };
    group.ms += share.ms;
    group.functions.push({ name: share.name, ms: share.ms });
    groups.set(name, group);
  }
  const lines = [
    'top self-time functions, grouped by package (node_modules/<pkg>, workspace package, native):',
  ];
  for (const [name, group] of [...groups].sort((a, b) => b[1].ms - a[1].ms).slice(0, packages)) {
    lines.push(`  ${us(group.ms)}  ${((group.ms * 100) / all.busyMs).toFixed(1).padStart(5)}%  ${name}`);
    for (const fn of group.functions.slice(0, perPackage)) lines.push(`      ${us(fn.ms)}  ${fn.name}`);
  }
  return lines.join('\n');
}

const overhead: Benchmark = {
  name: 'overhead',
  description:
    "the api's GET /healthz and GET /api/me straight to the process, as production runs it (value), vs bare express 5 answering the same bodies (baseline)",
  loadDefaults: { connections: 50, rounds: 3 },
  async run() {
    const settings = loadSettings(process.env, overhead.loadDefaults);
    const log = (line: string) => console.error(line);
    await migrate(DATABASE_URL);
    await ensureCaller();
    const [apiPort, bareServerPort] = await freePorts(2);
    if (apiPort === undefined || bareServerPort === undefined) throw new Error('no free ports');

    const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-overhead-'));
    // BENCH_CPU_PROFILE=1: after the measurements, one more load run per route with the api's V8
    // profiler on (the preload is idle until then, so the measured runs do not pay for it).
    const cpuProfileDir = process.env.BENCH_CPU_PROFILE === '1' ? join(scratch, 'cpuprofile') : undefined;
    const profiling = cpuProfileDir ? cpuProfileSetup(cpuProfileDir) : undefined;
    const collector = await startDiscardingCollector();
    const db = createDb(DATABASE_URL, { max: 1, applicationName: 'bursar-bench-overhead' });
    const started: ManagedProcess[] = [];
    try {
      const api = startApi({
        port: apiPort,
        databaseUrl: DATABASE_URL,
        scratch,
        logFile: join(resultsDir, 'overhead-api.log'),
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, ...profiling?.env },
        ...(profiling ? { nodeArgs: profiling.nodeArgs } : {}),
      });
      started.push(api);
      const apiBase = `http://127.0.0.1:${apiPort}`;
      await waitForUrl(`${apiBase}/healthz`, { process: api, timeoutMs: 60_000 });
      const token = await logIn(apiBase);
      const meBody = await getText(`${apiBase}/api/me`, { authorization: `Bearer ${token}` });

      const bare = startProcess({
        name: 'bare',
        command: process.execPath,
        args: ['--import', 'tsx', SELF],
        cwd: repoRoot,
        env: {
          ...process.env,
          BENCH_OVERHEAD_BARE_PORT: String(bareServerPort),
          BENCH_OVERHEAD_ME_BODY: meBody,
        },
        logFile: join(resultsDir, 'overhead-bare.log'),
      });
      started.push(bare);
      const bareBase = `http://127.0.0.1:${bareServerPort}`;
      await waitForUrl(`${bareBase}/healthz`, { process: bare, timeoutMs: 60_000 });
      await checkSameBodies(apiBase, bareBase, token);

      const cpuProbes: CpuProbes = {
        api: () => processCpuSeconds(api.pid),
        bare: () => processCpuSeconds(bare.pid),
        'pg(api)': backendsCpu(db, 'bursar-api'),
        loadgen: selfCpuSeconds,
      };
      const auth = { authorization: `Bearer ${token}` };
      const healthTargets = {
        value: { url: `${apiBase}/healthz`, label: 'api GET /healthz' },
        baseline: { url: `${bareBase}/healthz`, label: 'bare GET /healthz' },
      };
      const meTargets = {
        value: { url: `${apiBase}/api/me`, label: 'api GET /api/me', headers: auth },
        baseline: { url: `${bareBase}/api/me`, label: 'bare GET /api/me' },
      };
      log('  GET /healthz');
      const health = await compareUrls(healthTargets, { settings, cpuProbes, log });
      const exportsBefore = collector.exports();
      log('  GET /api/me');
      const me = await compareUrls(meTargets, { settings, cpuProbes, log });
      for (const proc of started) {
        if (proc.hasExited())
          throw new Error(`${proc.name} exited during the measurement; see ${proc.logFile}`);
      }
      // Spans are batched every few seconds: an api that exported nothing was not tracing.
      if (collector.exports() === exportsBefore)
        throw new Error(
          'the api exported no spans during /api/me: tracing was not on, so it was not measured',
        );

      const rows: BenchRow[] = [
        ...comparisonRows('healthz ', health.value, health.baseline, AIMS.healthz, false),
        ...comparisonRows('me ', me.value, me.baseline, AIMS.me, true),
      ];

      if (cpuProfileDir) {
        for (const [name, target] of [
          ['healthz', healthTargets.value],
          ['me', meTargets.value],
        ] as const) {
          log(`  cpu profile: ${target.label} (${settings.durationSec}s)`);
          const { result, file } = await profiled(api, cpuProfileDir, () =>
            runLoad(target, settings.connections, settings.durationSec, 99),
          );
          const responses = result.responses;
          const grouped = formatByPackage(summarizeCpuProfile(file, 100_000), responses);
          const text = `${grouped}\n${formatCpuProfileSummary(summarizeCpuProfile(file, 25), responses)}`;
          const out = join(resultsDir, `overhead-cpuprofile-${name}.txt`);
          // The raw profile opens in Chrome DevTools (Performance) or speedscope.
          copyFileSync(file, join(resultsDir, `overhead-cpuprofile-${name}.cpuprofile`));
          writeFileSync(
            out,
            `# api CPU profile, ${target.label}, ${Math.round(result.reqPerSec)} req/s (profiler on)\n${text}\n`,
          );
          log(
            `    ${target.label}, ${Math.round(result.reqPerSec)} req/s with the profiler on\n` +
              grouped
                .split('\n')
                .map((line) => `    ${line}`)
                .join('\n'),
          );
          log(`    full summary: ${out}`);
        }
      }

      const bad = loadProblems({
        'from the api /healthz': health.value,
        'from bare /healthz': health.baseline,
        'from the api /api/me': me.value,
        'from bare /api/me': me.baseline,
      });
      if (bad.length) {
        throw new BenchFailure(
          `overhead: ${bad.join(', ')}; see bench/results/overhead-*.log. Numbers from failing requests are not comparable.`,
          rows,
        );
      }
      return rows;
    } finally {
      for (const proc of started.reverse()) await proc.stop();
      await db.destroy();
      collector.server.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default overhead;
