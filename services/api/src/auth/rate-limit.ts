import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '@bursar/contracts';

/**
 * Login attempts, limited as OWASP's authentication guidance describes, so
 * that an attacker slows themselves and not the bursar:
 *  - strict: 10 attempts per (email, client address) in 15 minutes;
 *  - looser ceilings: 50 per email from anywhere (a spread-out guess at one
 *    account) and 300 per client address (a school office behind one NAT
 *    address is many honest people).
 * An attempt is consumed before the password is checked, atomically in
 * Redis, so parallel guesses cannot all slip in before the count moves; a
 * successful login gives its attempt back. Kept in Redis so every api
 * replica shares the counts; an in-process limiter stands in if Redis is down.
 */
export interface LoginLimiter {
  /** Takes one attempt for this email from this address; 429 (with Retry-After) when any limit is spent. */
  attempt(email: string, ip: string): Promise<void>;
  /** The password was right: the attempt does not count, and the pair starts afresh. */
  succeeded(email: string, ip: string): Promise<void>;
}

const WINDOW_SECONDS = 15 * 60;
export const LOGIN_LIMITS = { perEmailAndAddress: 10, perEmail: 50, perAddress: 300 } as const;

export function createLoginLimiter(redis: Redis, prefix: string): LoginLimiter {
  const make = (keyPrefix: string, points: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}:${keyPrefix}`,
      points,
      duration: WINDOW_SECONDS,
      insuranceLimiter: new RateLimiterMemory({ points, duration: WINDOW_SECONDS }),
    });
  const pair = make('login-pair', LOGIN_LIMITS.perEmailAndAddress);
  const byEmail = make('login-email', LOGIN_LIMITS.perEmail);
  const byAddress = make('login-ip', LOGIN_LIMITS.perAddress);
  const emailKey = (email: string) => email.trim().toLowerCase();
  const pairKey = (email: string, ip: string) => `${emailKey(email)}|${ip}`;

  const tooMany = (msBeforeNext: number) =>
    new AppError('rate_limited', 'Too many login attempts; wait before trying again', {
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(msBeforeNext / 1000))) },
    });
  const take = async (limiter: RateLimiterRedis, key: string) => {
    try {
      await limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw tooMany(error.msBeforeNext);
      throw error;
    }
  };

  return {
    async attempt(email, ip) {
      // In order, so a caller already refused on the strict pair spends none of the
      // ceilings the real user shares: hammering from one address locks out only it.
      await take(pair, pairKey(email, ip));
      try {
        await take(byEmail, emailKey(email));
      } catch (error) {
        await pair.reward(pairKey(email, ip), 1);
        throw error;
      }
      try {
        await take(byAddress, ip);
      } catch (error) {
        await Promise.all([pair.reward(pairKey(email, ip), 1), byEmail.reward(emailKey(email), 1)]);
        throw error;
      }
    },
    async succeeded(email, ip) {
      await Promise.all([
        pair.delete(pairKey(email, ip)),
        byEmail.reward(emailKey(email), 1),
        byAddress.reward(ip, 1),
      ]);
    },
  };
}
