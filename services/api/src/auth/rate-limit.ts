import { AppError } from '@bursar/contracts';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Failed-login limits, kept in Redis so every api replica shares them: 10
 * failures per email and 50 per IP in 15 minutes. A success clears the email's
 * count. If Redis is down an in-process limiter stands in.
 */
export interface LoginLimiter {
  /** Throws 429 (with Retry-After) if either key is already over its limit. */
  check(email: string, ip: string): Promise<void>;
  recordFailure(email: string, ip: string): Promise<void>;
  recordSuccess(email: string): Promise<void>;
}

const WINDOW_SECONDS = 15 * 60;

export function createLoginLimiter(redis: Redis, prefix: string): LoginLimiter {
  const make = (keyPrefix: string, points: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}:${keyPrefix}`,
      points,
      duration: WINDOW_SECONDS,
      insuranceLimiter: new RateLimiterMemory({ points, duration: WINDOW_SECONDS }),
    });
  const byEmail = make('login-email', 10);
  const byIp = make('login-ip', 50);
  const emailKey = (email: string) => email.trim().toLowerCase();

  const tooMany = (msBeforeNext: number) =>
    new AppError('rate_limited', 'Too many failed logins; wait before trying again', {
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(msBeforeNext / 1000))) },
    });

  return {
    async check(email, ip) {
      const [emailState, ipState] = await Promise.all([byEmail.get(emailKey(email)), byIp.get(ip)]);
      for (const [state, limit] of [
        [emailState, 10],
        [ipState, 50],
      ] as const) {
        if (state && state.consumedPoints >= limit) throw tooMany(state.msBeforeNext);
      }
    },
    async recordFailure(email, ip) {
      const results = await Promise.allSettled([byEmail.consume(emailKey(email)), byIp.consume(ip)]);
      for (const result of results) {
        if (result.status === 'rejected' && result.reason instanceof RateLimiterRes) {
          throw tooMany(result.reason.msBeforeNext);
        }
      }
    },
    async recordSuccess(email) {
      await byEmail.delete(emailKey(email));
    },
  };
}
