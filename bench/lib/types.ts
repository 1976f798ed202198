import type { LoadSettings } from './load.js';

/** Which way a metric should move for the value to count as an improvement over the baseline. */
export type Better = 'higher' | 'lower';

/**
 * One measured metric. `value` is the thing under test (e.g. through Caddy),
 * `baseline` the same measurement without it (e.g. straight to the api); the
 * runner computes `ratio = value / baseline`.
 */
export interface BenchRow {
  metric: string;
  /** Unit shown after the number: `req/s`, `ms`, `count`. */
  unit: string;
  value: number;
  /** Omitted for metrics that have nothing to compare against (the ratio is left blank). */
  baseline?: number;
  better: Better;
  /** A short remark printed under the table and kept in the JSON. */
  note?: string;
}

/** What a `bench/<name>.bench.ts` module exports as its default. */
export interface Benchmark {
  /** Must equal the file name without `.bench.ts`; `pnpm bench <name>` selects it. */
  name: string;
  description: string;
  /** Load settings this benchmark uses unless BENCH_* variables say otherwise (see `loadSettings`). */
  loadDefaults?: Partial<LoadSettings>;
  /** Starts what it needs, measures, and stops everything it started, even when it throws. */
  run(): Promise<BenchRow[]>;
}

/**
 * Thrown by a benchmark whose measurement completed but is not trustworthy
 * (non-2xx answers, connection errors). The runner still prints and saves the
 * rows so the failure can be read, then exits non-zero.
 */
export class BenchFailure extends Error {
  constructor(
    message: string,
    readonly rows: BenchRow[],
  ) {
    super(message);
    this.name = 'BenchFailure';
  }
}
