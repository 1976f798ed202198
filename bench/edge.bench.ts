import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../packages/db/src/cli.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import { compareUrls, loadSettings, type LoadResult } from './lib/load.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, waitForUrl, type ManagedProcess } from './lib/process.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

/** A database of the benchmarks' own: never the developer's `bursar`, never a test run's `bursar_test_*`. */
const BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench';
const REDIS_URL = 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = '{bursar-bench}';

/** CPU microseconds a process spent per response; undefined when it was not probed. */
function cpuPerRequestUs(result: LoadResult, name: string): number | undefined {
  const seconds = result.cpuSec[name];
  return seconds === undefined || result.responses === 0 ? undefined : (seconds * 1e6) / result.responses;
}

/**
 * Where the CPU went. On a small machine the load generator, Caddy and the
 * api compete for the same cores, so a throughput ratio alone cannot tell
 * "Caddy is slow" from "Caddy took CPU the api needed"; these rows can.
 */
function cpuRows(value: LoadResult, baseline: LoadResult): BenchRow[] {
  const rows: BenchRow[] = [];
  const perRequest = (name: string, label: string, note?: string) => {
    const v = cpuPerRequestUs(value, name);
    if (v === undefined) return;
    const b = cpuPerRequestUs(baseline, name);
    rows.push({
      metric: `${label} CPU per request`,
      unit: 'µs',
      value: v,
      ...(b ? { baseline: b } : {}),
      better: 'lower',
      ...(note ? { note } : {}),
    });
  };
  perRequest('api', 'api');
  perRequest('caddy', 'caddy', 'Caddy is idle in the baseline, so its CPU has no ratio');
  perRequest('loadgen', 'load generator');
  const busyCores = (result: LoadResult) =>
    Object.values(result.cpuSec).reduce((total, seconds) => total + seconds, 0) / result.durationSec;
  if (Object.keys(value.cpuSec).length) {
    rows.push({
      metric: 'cores busy (api+caddy+loadgen)',
      unit: 'cores',
      value: busyCores(value),
      baseline: busyCores(baseline),
      better: 'lower',
      note: `of ${cpus().length} cores; near the core count means the run was CPU-bound, so the three processes shared the CPU`,
    });
  }
  return rows;
}

function checkRows(value: LoadResult, baseline: LoadResult): BenchRow[] {
  return [
    {
      metric: 'non-2xx responses',
      unit: 'count',
      value: value.non2xx,
      baseline: baseline.non2xx,
      better: 'lower',
    },
    {
      metric: 'connection errors',
      unit: 'count',
      value: value.errors,
      baseline: baseline.errors,
      better: 'lower',
    },
    {
      metric: 'responses',
      unit: 'count',
      value: value.responses,
      baseline: baseline.responses,
      better: 'higher',
    },
  ];
}

const edge: Benchmark = {
  name: 'edge',
  description: 'GET /api/healthz through Caddy (value) vs straight to the api process (baseline)',
  async run() {
    const settings = loadSettings();
    await migrate(BENCH_DATABASE_URL);
    const [apiPort, edgePort] = await freePorts(2);
    if (apiPort === undefined || edgePort === undefined) throw new Error('no free ports');

    // Caddy's XDG data (certificates, autosaved config) and the api's development signing key
    // live in a scratch directory, never in the developer's home or .data/.
    const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-edge-'));
    const started: ManagedProcess[] = [];
    try {
      const api = startProcess({
        name: 'api',
        command: process.execPath,
        args: ['--import', 'tsx', '--import', '@bursar/platform/register-telemetry', 'src/main.ts'],
        cwd: join(repoRoot, 'services/api'),
        env: {
          ...process.env,
          API_PORT: String(apiPort),
          DATABASE_URL: BENCH_DATABASE_URL,
          REDIS_URL,
          QUEUE_PREFIX,
          // The real request-logging middleware is part of what is measured; its lines go to the log file.
          LOG_LEVEL: 'info',
          OTEL_SERVICE_NAME: 'bursar-api',
          OTEL_EXPORTER_OTLP_ENDPOINT: '',
          JWT_KEY_FILE: join(scratch, 'jwt', 'signing-key.pem'),
        },
        logFile: join(resultsDir, 'edge-api.log'),
      });
      started.push(api);
      const direct = `http://127.0.0.1:${apiPort}/api/healthz`;
      await waitForUrl(direct, { process: api, timeoutMs: 60_000 });

      const caddy = startProcess({
        name: 'caddy',
        command: 'caddy',
        args: ['run', '--config', 'Caddyfile', '--adapter', 'caddyfile'],
        cwd: repoRoot,
        env: {
          ...process.env,
          BURSAR_DOMAIN: '',
          BURSAR_PORT: String(edgePort),
          API_UPSTREAM: `127.0.0.1:${apiPort}`,
          // Nothing listens behind these; the benchmark only touches /api/*.
          WEBHOOK_UPSTREAM: '127.0.0.1:9',
          NOTIFY_UPSTREAM: '127.0.0.1:9',
          AI_UPSTREAM: '127.0.0.1:9',
          XDG_DATA_HOME: join(scratch, 'data'),
          XDG_CONFIG_HOME: join(scratch, 'config'),
        },
        logFile: join(resultsDir, 'edge-caddy.log'),
      });
      started.push(caddy);
      const viaEdge = `http://127.0.0.1:${edgePort}/api/healthz`;
      await waitForUrl(viaEdge, { process: caddy, timeoutMs: 30_000 });

      const { value, baseline } = await compareUrls(
        { value: viaEdge, baseline: direct },
        {
          settings,
          cpuProbes: {
            api: () => processCpuSeconds(api.pid),
            caddy: () => processCpuSeconds(caddy.pid),
            loadgen: selfCpuSeconds,
          },
        },
      );
      for (const proc of started) {
        if (proc.hasExited())
          throw new Error(`${proc.name} exited during the measurement; see ${proc.logFile}`);
      }

      const rows: BenchRow[] = [
        {
          metric: 'throughput',
          unit: 'req/s',
          value: value.reqPerSec,
          baseline: baseline.reqPerSec,
          better: 'higher',
          note: 'ratio = share of direct throughput kept through Caddy',
        },
        { metric: 'latency p50', unit: 'ms', value: value.p50Ms, baseline: baseline.p50Ms, better: 'lower' },
        { metric: 'latency p99', unit: 'ms', value: value.p99Ms, baseline: baseline.p99Ms, better: 'lower' },
        ...cpuRows(value, baseline),
        ...checkRows(value, baseline),
      ];
      const bad = [
        ...(value.non2xx ? [`${value.non2xx} non-2xx through Caddy`] : []),
        ...(baseline.non2xx ? [`${baseline.non2xx} non-2xx direct`] : []),
        ...(value.errors ? [`${value.errors} connection errors through Caddy`] : []),
        ...(baseline.errors ? [`${baseline.errors} connection errors direct`] : []),
        ...(value.responses === 0 || baseline.responses === 0 ? ['no responses at all'] : []),
      ];
      if (bad.length) {
        throw new BenchFailure(
          `edge: ${bad.join(', ')}; see bench/results/edge-*.log. Numbers from failing requests are not comparable.`,
          rows,
        );
      }
      return rows;
    } finally {
      // Edge first, so the api is not left answering a proxy mid-shutdown.
      for (const proc of started.reverse()) await proc.stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default edge;
