import { cpus } from 'node:os';
import type { LoadResult } from './load.js';
import type { BenchRow } from './types.js';

/** CPU microseconds a probed process spent per response; undefined when it was not probed. */
export function cpuPerRequestUs(result: LoadResult, probe: string): number | undefined {
  const seconds = result.cpuSec[probe];
  return seconds === undefined || result.responses === 0 ? undefined : (seconds * 1e6) / result.responses;
}

/** One "CPU per request" row: which probe is the value, which the baseline (often the same process). */
export interface CpuRowSpec {
  label: string;
  value: string;
  /** Defaults to `value`. A baseline that was idle (0) is left out, so the row has no ratio. */
  baseline?: string;
  note?: string;
}

/**
 * Where the CPU went. On a small machine the load generator, the proxy, the
 * server and PostgreSQL compete for the same cores, so a throughput ratio
 * alone cannot tell "slow" from "starved"; these rows can.
 */
export function cpuRows(
  value: LoadResult,
  baseline: LoadResult,
  specs: CpuRowSpec[],
  prefix = '',
): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const spec of specs) {
    const v = cpuPerRequestUs(value, spec.value);
    if (v === undefined) continue;
    const b = cpuPerRequestUs(baseline, spec.baseline ?? spec.value);
    rows.push({
      metric: `${prefix}${spec.label} CPU per request`,
      unit: 'µs',
      value: v,
      ...(b ? { baseline: b } : {}),
      better: 'lower',
      ...(spec.note ? { note: spec.note } : {}),
    });
  }
  const busyCores = (result: LoadResult) =>
    Object.values(result.cpuSec).reduce((total, seconds) => total + seconds, 0) / result.durationSec;
  if (Object.keys(value.cpuSec).length) {
    rows.push({
      metric: `${prefix}cores busy (${Object.keys(value.cpuSec).join('+')})`,
      unit: 'cores',
      value: busyCores(value),
      baseline: busyCores(baseline),
      better: 'lower',
      note: `of ${cpus().length} cores; near the core count means the run was CPU-bound, so the processes shared the CPU`,
    });
  }
  return rows;
}

/** Response counts, so a table with failures says so. */
export function checkRows(value: LoadResult, baseline: LoadResult, prefix = ''): BenchRow[] {
  return [
    {
      metric: `${prefix}non-2xx responses`,
      unit: 'count',
      value: value.non2xx,
      baseline: baseline.non2xx,
      better: 'lower',
    },
    {
      metric: `${prefix}connection errors`,
      unit: 'count',
      value: value.errors,
      baseline: baseline.errors,
      better: 'lower',
    },
    {
      metric: `${prefix}responses`,
      unit: 'count',
      value: value.responses,
      baseline: baseline.responses,
      better: 'higher',
    },
  ];
}

/** Why a set of load results cannot be trusted (non-2xx, connection errors, nothing answered); empty when fine. */
export function loadProblems(results: Record<string, LoadResult>): string[] {
  return Object.entries(results).flatMap(([label, result]) => [
    ...(result.non2xx ? [`${result.non2xx} non-2xx ${label}`] : []),
    ...(result.errors ? [`${result.errors} connection errors ${label}`] : []),
    ...(result.responses === 0 ? [`no responses ${label}`] : []),
  ]);
}
