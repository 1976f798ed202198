import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { Logger } from '@bursar/platform';
import type { Config } from './config.js';
import type { SigningKeys } from './auth/keys.js';
import type { LoginLimiter } from './auth/rate-limit.js';

/** What every feature's routes receive: built once in `createApp`, passed down explicitly (no container). */
export interface ApiContext {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  keys: SigningKeys;
  loginLimiter: LoginLimiter;
  /** Verifies the bearer token and sets `req.auth`. */
  authenticate: RequestHandler;
}
