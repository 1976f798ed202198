import autocannon from 'autocannon';

/** One load shape, used for both sides of a comparison so their numbers are comparable. */
export interface LoadSettings {
  connections: number;
  /** Measured seconds per run. */
  durationSec: number;
  /** Unmeasured seconds before each target's first measured run (JIT, pools, keep-alive sockets). */
  warmupSec: number;
  /** Measured runs per target, alternating targets; the median run is reported. */
  rounds: number;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new Error(`${name} must be a number in (0, ${max}], got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The defaults a benchmark gets unless it declares its own (`Benchmark.loadDefaults`). */
export const DEFAULT_LOAD: LoadSettings = { connections: 50, durationSec: 10, warmupSec: 3, rounds: 1 };

/**
 * Defaults: 50 connections, 3 s warmup, 10 s measured, 1 round, or a benchmark's
 * own `defaults`. BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS and BENCH_ROUNDS override them.
 */
export function loadSettings(
  env: NodeJS.ProcessEnv = process.env,
  defaults: Partial<LoadSettings> = {},
): LoadSettings {
  const base = { ...DEFAULT_LOAD, ...defaults };
  return {
    connections: Math.round(positiveNumber(env, 'BENCH_CONNECTIONS', base.connections, 10_000)),
    durationSec: positiveNumber(env, 'BENCH_DURATION', base.durationSec, 600),
    warmupSec: positiveNumber(env, 'BENCH_WARMUP', base.warmupSec, 600),
    rounds: Math.round(positiveNumber(env, 'BENCH_ROUNDS', base.rounds, 20)),
  };
}

/**
 * What to load: a URL, or a URL with request headers and a path chosen per
 * request (random ids). Only the URL's origin is used when `pathPicker` is set.
 */
export interface LoadTarget {
  url: string;
  /** Names the target in logs and results instead of the URL. */
  label?: string;
  headers?: Record<string, string>;
  /**
   * Makes the function that gives each request's path (with its query). Called
   * at the start of every run with the run's number: 0 for the warmup, then the
   * round (1, 2, …). Both sides of a comparison get the same number, so a seeded
   * picker sends value and baseline the same sequence in each round.
   */
  pathPicker?: (run: number) => () => string;
  /**
   * Whole requests per run instead of a path: a POST whose body and headers are
   * made per request (`setupRequest`, e.g. pre-signed webhooks), with
   * `onResponse` to see each answer. Called like `pathPicker`, with the run's number.
   */
  requestsFor?: (run: number) => autocannon.Request[];
}

export type Target = string | LoadTarget;

function asTarget(target: Target): LoadTarget {
  return typeof target === 'string' ? { url: target } : target;
}

function targetName(target: Target): string {
  const { url, label } = asTarget(target);
  return label ?? url;
}

export interface LoadResult {
  /** The target's label, or its URL. */
  url: string;
  /** Mean of the per-second request counts. */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses received, of any status. */
  responses: number;
  non2xx: number;
  /** Responses per status code, e.g. `{ "200": 41234 }`. */
  statusCodes: Record<string, number>;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  durationSec: number;
  /** CPU seconds each probed process used during the measured run(s); filled by `compareUrls`. */
  cpuSec: Record<string, number>;
}

/**
 * Named CPU-seconds counters (see `cpu.ts`) read before and after each measured
 * run. A probe may be async (e.g. one that first asks PostgreSQL for its backends' pids).
 */
export type CpuProbes = Record<string, () => number | undefined | Promise<number | undefined>>;

/** Runs autocannon once; a watchdog stops it if it overruns its duration by 30 s. */
export function runLoad(
  target: Target,
  connections: number,
  durationSec: number,
  run = 0,
): Promise<LoadResult> {
  const { url, headers, pathPicker, requestsFor } = asTarget(target);
  const nextPath = pathPicker?.(run);
  const custom = requestsFor?.(run);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: durationSec,
        ...(headers ? { headers } : {}),
        ...(nextPath
          ? { requests: [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }] }
          : {}),
        ...(custom ? { requests: custom } : {}),
      },
      (error, result) => {
        clearTimeout(watchdog);
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        resolve({
          url: targetName(target),
          reqPerSec: result.requests.average,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          responses: result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'],
          non2xx: result.non2xx,
          statusCodes: Object.fromEntries(
            Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]),
          ),
          errors: result.errors,
          timeouts: result.timeouts,
          durationSec: result.duration,
          cpuSec: {},
        });
      },
    );
    const watchdog = setTimeout(() => instance.stop(), (durationSec + 30) * 1_000);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(url: string, runs: LoadResult[]): LoadResult {
  const sum = (pick: (r: LoadResult) => number) => runs.reduce((total, r) => total + pick(r), 0);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) {
    for (const [code, count] of Object.entries(run.statusCodes))
      statusCodes[code] = (statusCodes[code] ?? 0) + count;
  }
  return {
    url,
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    // Counts are totals: one bad answer in any run matters.
    responses: sum((r) => r.responses),
    non2xx: sum((r) => r.non2xx),
    statusCodes,
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    durationSec: sum((r) => r.durationSec),
    cpuSec: Object.fromEntries(
      Object.keys(runs[0]?.cpuSec ?? {}).map((name) => [name, sum((r) => r.cpuSec[name] ?? 0)]),
    ),
  };
}

async function readProbes(probes: CpuProbes): Promise<Record<string, number | undefined>> {
  const names = Object.keys(probes);
  const values = await Promise.all(names.map((name) => probes[name]!()));
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}

async function measuredRun(
  target: Target,
  connections: number,
  durationSec: number,
  run: number,
  probes: CpuProbes,
): Promise<LoadResult> {
  const before = await readProbes(probes);
  const result = await runLoad(target, connections, durationSec, run);
  const after = await readProbes(probes);
  for (const name of Object.keys(probes)) {
    const start = before[name];
    const end = after[name];
    if (start !== undefined && end !== undefined) result.cpuSec[name] = end - start;
  }
  return result;
}

export interface Comparison {
  value: LoadResult;
  baseline: LoadResult;
  settings: LoadSettings;
}

/**
 * Measures two targets under the same settings: a warmup run against each, then
 * `rounds` measured runs alternating baseline and value, so slow drift in a
 * noisy machine's load hits both sides alike. Medians per metric; counts and
 * CPU seconds are totals over the measured runs.
 */
export async function compareUrls(
  urls: { value: Target; baseline: Target },
  options: { settings?: LoadSettings; cpuProbes?: CpuProbes; log?: (line: string) => void } = {},
): Promise<Comparison> {
  const settings = options.settings ?? loadSettings();
  const probes = options.cpuProbes ?? {};
  const log = options.log ?? ((line: string) => console.error(line));
  const { connections, durationSec, warmupSec, rounds } = settings;
  for (const target of [urls.baseline, urls.value]) {
    log(`  warmup   ${targetName(target)} (${warmupSec}s, ${connections} connections)`);
    await runLoad(target, connections, warmupSec, 0);
  }
  const valueRuns: LoadResult[] = [];
  const baselineRuns: LoadResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [target, runs] of [
      [urls.baseline, baselineRuns],
      [urls.value, valueRuns],
    ] as const) {
      log(`  measure  ${targetName(target)} (${durationSec}s, round ${round}/${rounds})`);
      const result = await measuredRun(target, connections, durationSec, round, probes);
      log(`           ${Math.round(result.reqPerSec)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
      runs.push(result);
    }
  }
  return {
    value: summarize(targetName(urls.value), valueRuns),
    baseline: summarize(targetName(urls.baseline), baselineRuns),
    settings,
  };
}
