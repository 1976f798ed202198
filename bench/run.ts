/**
 * `pnpm bench`           runs every `bench/<name>.bench.ts`
 * `pnpm bench <name>…`   runs the named ones
 * `pnpm bench --list`    lists them
 * Prints a table and writes `bench/results/<name>.json` per benchmark.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadSettings } from './lib/load.js';
import { resultsDir } from './lib/paths.js';
import { installCleanupHandlers, stopAll } from './lib/process.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

const benchDir = import.meta.dirname;
const SUFFIX = '.bench.ts';

function benchmarkNames(): string[] {
  return readdirSync(benchDir)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort();
}

async function loadBenchmark(name: string): Promise<Benchmark> {
  const module = (await import(pathToFileURL(join(benchDir, `${name}${SUFFIX}`)).href)) as {
    default?: Benchmark;
  };
  const bench = module.default;
  if (!bench || typeof bench.run !== 'function' || bench.name !== name) {
    throw new Error(`bench/${name}${SUFFIX} must export default { name: '${name}', description, run }`);
  }
  return bench;
}

interface ResultRow extends BenchRow {
  benchmark: string;
  ratio: number | null;
}

function withRatios(benchmark: string, rows: BenchRow[]): ResultRow[] {
  return rows.map((row) => ({
    benchmark,
    ...row,
    ratio: row.baseline !== undefined && row.baseline !== 0 ? row.value / row.baseline : null,
  }));
}

function formatNumber(value: number, unit: string): string {
  if (unit === 'count') return String(Math.round(value));
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toFixed(digits);
}

function printTable(rows: ResultRow[]): void {
  const header = ['benchmark', 'metric', 'value', 'baseline', 'ratio', 'better'];
  const body = rows.map((row) => [
    row.benchmark,
    `${row.metric} (${row.unit})`,
    formatNumber(row.value, row.unit),
    row.baseline === undefined ? '' : formatNumber(row.baseline, row.unit),
    row.ratio === null ? '' : row.ratio.toFixed(2),
    row.better === 'higher' ? 'higher ratio' : 'lower ratio',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i]!.length)));
  const numeric = new Set([2, 3, 4]);
  const line = (cells: string[]) =>
    cells.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of body) console.log(line(cells));
  for (const row of rows.filter((r) => r.note))
    console.log(`  * ${row.benchmark} / ${row.metric}: ${row.note}`);
  console.log(
    '  ratio = value / baseline; "better" says which way a ratio should move to count as an improvement.',
  );
}

function machineInfo() {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    totalMemoryMiB: Math.round(totalmem() / 2 ** 20),
    loadAverage1m: Number(loadavg()[0]?.toFixed(2)),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

function writeResult(bench: Benchmark, rows: ResultRow[], startedAt: Date, failure?: string): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${bench.name}.json`);
  const result = {
    name: bench.name,
    description: bench.description,
    date: startedAt.toISOString(),
    elapsedSec: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    machine: machineInfo(),
    settings: loadSettings(process.env, bench.loadDefaults),
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    rows: rows.map(({ benchmark: _benchmark, ...row }) => row),
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

function listBenchmarks(names: string[]): void {
  console.log(`benchmarks (bench/<name>${SUFFIX}):`);
  for (const name of names) console.log(`  ${name}`);
}

async function main(): Promise<number> {
  installCleanupHandlers();
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  const available = benchmarkNames();
  if (args.includes('--list') || args.includes('-l')) {
    listBenchmarks(available);
    return 0;
  }
  const unknown = args.filter((name) => !available.includes(name));
  if (unknown.length) {
    console.error(`unknown benchmark: ${unknown.join(', ')}`);
    listBenchmarks(available);
    return 2;
  }
  const selected = args.length ? args : available;
  if (!args.length) console.error(`running all benchmarks: ${selected.join(', ')}`);

  const allRows: ResultRow[] = [];
  let failed = false;
  for (const name of selected) {
    const bench = await loadBenchmark(name);
    const startedAt = new Date();
    console.error(`\n▶ ${bench.name}: ${bench.description}`);
    try {
      const rows = withRatios(bench.name, await bench.run());
      allRows.push(...rows);
      console.error(`  wrote ${writeResult(bench, rows, startedAt)}`);
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message : String(error);
      const rows = error instanceof BenchFailure ? withRatios(bench.name, error.rows) : [];
      allRows.push(...rows);
      const file = writeResult(bench, rows, startedAt, message);
      // An unexpected error's stack says where; a BenchFailure's message says everything.
      const detail =
        !(error instanceof BenchFailure) && error instanceof Error ? (error.stack ?? message) : message;
      console.error(`\n✖ ${bench.name} failed: ${detail}\n  wrote ${file}`);
    }
  }
  console.log('');
  if (allRows.length) printTable(allRows);
  return failed ? 1 : 0;
}

main()
  .then(async (code) => {
    await stopAll();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
