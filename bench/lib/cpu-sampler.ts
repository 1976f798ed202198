import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../packages/db/src/schema.js';
import { processCpuSeconds } from './cpu.js';

/** Reads a CPU-seconds counter that only goes up; undefined when it cannot be read (no procfs, process gone). */
export type CpuProbe = () => number | undefined | Promise<number | undefined>;

/**
 * CPU seconds the whole machine has been busy, summed over its cores: every
 * `/proc/stat` column but idle and iowait. Includes whatever else runs on the
 * machine, which is the point: it tells a starved run from a slow one.
 */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
    // USER_HZ is 100 on every Linux this runs on; /proc/stat has no field saying otherwise.
    return (total - idle) / 100;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of this database's backends whose `application_name` is
 * `applicationName`, as a counter that never goes down: a backend keeps its
 * last reading after it disconnects (pools close idle clients), and a pid
 * reused by a new backend keeps the old one's total. CPU a backend spent
 * between its last reading and its exit is lost (under-reported, never over).
 */
export function backendsCpu(db: Kysely<DB>, applicationName: string): CpuProbe {
  const lastSeen = new Map<number, number>();
  let reused = 0;
  return async () => {
    const { rows } = await sql<{ pid: number }>`
      select pid from pg_stat_activity where datname = current_database() and application_name = ${applicationName}
    `.execute(db);
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

/**
 * The Redis server's pid when it runs on this machine in this pid namespace
 * (its `INFO` names a pid whose command is redis-server); undefined otherwise,
 * e.g. Redis in a container.
 */
export async function redisServerPid(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('server');
  const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').includes('redis') ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface Sample {
  at: number;
  values: Record<string, number | undefined>;
}

/**
 * Reads a set of CPU counters every `intervalMs` (wall-clock `Date.now()`
 * stamps), so the CPU of any window of a run can be read afterwards, once the
 * window is known: `between` interpolates each counter linearly between the
 * samples around each edge.
 */
export class CpuSampler {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly probes: Record<string, CpuProbe>,
    private readonly intervalMs = 500,
  ) {}

  /** Takes a sample now and then every interval until `stop`. */
  async start(): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => {
      this.pending ??= this.sample().finally(() => (this.pending = undefined));
    }, this.intervalMs);
  }

  /** Stops sampling after one last sample. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pending;
    await this.sample();
  }

  private async sample(): Promise<void> {
    const values: Record<string, number | undefined> = {};
    for (const [name, probe] of Object.entries(this.probes)) values[name] = await probe();
    this.samples.push({ at: Date.now(), values });
  }

  /** Each counter's value at `at` (ms), interpolated; undefined outside the samples or when unread. */
  private valueAt(name: string, at: number): number | undefined {
    const readable = this.samples.filter((sample) => sample.values[name] !== undefined);
    const after = readable.findIndex((sample) => sample.at >= at);
    if (after === -1) return undefined;
    const next = readable[after]!;
    if (after === 0) return next.at === at ? next.values[name] : undefined;
    const previous = readable[after - 1]!;
    const share = (at - previous.at) / (next.at - previous.at);
    return previous.values[name]! + share * (next.values[name]! - previous.values[name]!);
  }

  /** CPU seconds each counter gained between `from` and `to` (ms); counters not read across the window are left out. */
  between(from: number, to: number): Record<string, number> {
    const result: Record<string, number> = {};
    for (const name of Object.keys(this.probes)) {
      const start = this.valueAt(name, from);
      const end = this.valueAt(name, to);
      if (start !== undefined && end !== undefined) result[name] = end - start;
    }
    return result;
  }
}
