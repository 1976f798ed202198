import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '@bursar/platform';

/**
 * Analytics answers in Redis. An entry's key names everything the answer
 * depends on (the school's money version, the endpoint, the normalised query,
 * and for the dashboard the school's local date), so an entry is never
 * stale: a money change moves the version and the next read misses. Nothing
 * deletes entries; the TTL bounds the memory the old versions hold.
 *
 * Redis is only an optimisation. A read or write that fails, or takes longer
 * than `timeoutMs` (a Redis that hangs), is skipped and the answer comes from
 * PostgreSQL; while the connection is down Redis is not asked at all. The
 * first failure is logged, then at most one a minute (with how many were not).
 */
export interface AnalyticsCache {
  /** The answer cached under `key`, or `compute()`'s, stored under `key` before it is returned. */
  through<T>(key: AnalyticsKey, compute: () => Promise<T>): Promise<T>;
  /** The Redis key an entry is stored under (tests look for it). */
  redisKey(key: AnalyticsKey): string;
  /** Every key this cache's entries live under match this glob (tests clear them). */
  pattern: string;
}

/** What an answer depends on; `scope` is a school id, or `platform` for the cross-school dashboard. */
export interface AnalyticsKey {
  scope: string;
  /** The school's money version (or the platform's versions, see `platformVersion`). */
  version: string;
  endpoint: string;
  /** The parsed query (defaults applied), and anything else the answer depends on (today's date). */
  query: Record<string, unknown>;
}

export interface AnalyticsCacheOptions {
  redis: Redis;
  /** The deployment's key prefix (`QUEUE_PREFIX`), so test runs and deployments never share entries. */
  prefix: string;
  logger: Logger;
  ttlSeconds?: number;
  timeoutMs?: number;
}

/** Ten minutes: long enough to serve a dashboard's refreshes, short enough that old versions go soon. */
export const ANALYTICS_TTL_SECONDS = 600;
/** A cache that takes longer than this is slower than asking PostgreSQL. */
export const ANALYTICS_REDIS_TIMEOUT_MS = 200;
const WARN_EVERY_MS = 60_000;

/** The query as text with its keys in order and unset ones left out, so equal queries make equal keys. */
function normalise(query: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(query)
      .filter((name) => query[name] !== undefined)
      .sort()
      .map((name) => [name, query[name]]),
  );
}

class RedisTimeout extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeout(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createAnalyticsCache({
  redis,
  prefix,
  logger,
  ttlSeconds = ANALYTICS_TTL_SECONDS,
  timeoutMs = ANALYTICS_REDIS_TIMEOUT_MS,
}: AnalyticsCacheOptions): AnalyticsCache {
  const base = `${prefix}:analytics:`;
  let lastWarning = -Infinity;
  let unlogged = 0;

  const warn = (error: unknown, action: string) => {
    const now = Date.now();
    if (now - lastWarning < WARN_EVERY_MS) {
      unlogged += 1;
      return;
    }
    logger.warn(
      { err: error, suppressed: unlogged },
      `analytics cache: Redis ${action} failed; answering from PostgreSQL`,
    );
    lastWarning = now;
    unlogged = 0;
  };

  /** Runs a Redis command unless the connection is down; undefined when it is, or when the command fails. */
  const attempt = async <T>(action: string, command: () => Promise<T>): Promise<T | undefined> => {
    if (redis.status !== 'ready') {
      warn(new Error(`Redis connection is ${redis.status}`), action);
      return undefined;
    }
    try {
      return await withTimeout(command(), timeoutMs);
    } catch (error) {
      warn(error, action);
      return undefined;
    }
  };

  const redisKey = (key: AnalyticsKey) => {
    const query = createHash('sha256').update(normalise(key.query)).digest('hex').slice(0, 32);
    return `${base}${key.scope}:v${key.version}:${key.endpoint}:${query}`;
  };

  return {
    pattern: `${base}*`,
    redisKey,
    async through(key, compute) {
      const name = redisKey(key);
      const cached = await attempt('read', () => redis.get(name));
      if (cached) return JSON.parse(cached);
      const value = await compute();
      // Awaited (within the timeout), so the next read finds it; a failed write only costs that read.
      await attempt('write', () => redis.set(name, JSON.stringify(value), 'EX', ttlSeconds));
      return value;
    },
  };
}
