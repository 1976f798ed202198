import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * `producer`: commands fail fast while Redis is down (callers keep the work in
 * PostgreSQL and retry). `worker`: BullMQ blocking connections must retry
 * forever (`maxRetriesPerRequest: null`).
 */
export function createRedis(url: string, role: 'producer' | 'worker', extra: RedisOptions = {}): Redis {
  const base: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : // A Redis that hangs without closing the connection must not hold a caller (or the outbox
        // relay's locked rows) forever: a command that gets no answer fails after 5 s.
        { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 5_000 };
  return new Redis(url, {
    ...base,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    ...extra,
  });
}

/**
 * BullMQ loses jobs if Redis evicts keys under memory pressure. Warn loudly
 * (but keep running) when the policy is anything but `noeviction`.
 */
export async function warnUnlessNoeviction(redis: Redis, logger: Logger): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== 'noeviction') {
      logger.warn(
        { policy },
        `REDIS MISCONFIGURED: maxmemory-policy is "${policy}"; set it to "noeviction" or queued jobs can be evicted and lost`,
      );
    }
    return policy;
  } catch (error) {
    logger.warn({ err: error }, 'could not read Redis maxmemory-policy; make sure it is "noeviction"');
    return undefined;
  }
}

/** A readiness probe for a Redis connection. */
export function redisCheck(redis: Redis): () => Promise<unknown> {
  return () => redis.ping();
}
