import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../packages/db/src/cli.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import { compareUrls, loadSettings } from './lib/load.js';
import { resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { waitForUrl, type ManagedProcess } from './lib/process.js';
import { checkRows, cpuRows, loadProblems } from './lib/report.js';
import { startApi, startCaddy } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

/** A database of the benchmarks' own: never the developer's `bursar`, never a test run's `bursar_test_*`. */
const BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench';

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
      const api = startApi({
        port: apiPort,
        databaseUrl: BENCH_DATABASE_URL,
        scratch,
        logFile: join(resultsDir, 'edge-api.log'),
      });
      started.push(api);
      const direct = `http://127.0.0.1:${apiPort}/api/healthz`;
      await waitForUrl(direct, { process: api, timeoutMs: 60_000 });

      const caddy = startCaddy({
        port: edgePort,
        apiUpstream: `127.0.0.1:${apiPort}`,
        scratch,
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
        ...cpuRows(value, baseline, [
          { label: 'api', value: 'api' },
          { label: 'caddy', value: 'caddy', note: 'Caddy is idle in the baseline, so its CPU has no ratio' },
          { label: 'load generator', value: 'loadgen' },
        ]),
        ...checkRows(value, baseline),
      ];
      const bad = loadProblems({ 'through Caddy': value, direct: baseline });
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
