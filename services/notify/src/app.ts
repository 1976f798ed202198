import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { databaseCheck, type DB } from '@bursar/db';
import { createHttpApp, redisCheck, type Authenticator, type Logger } from '@bursar/platform';
import type { Config } from './config.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  /** Checks Bursar's access tokens against the api's JWKS (`serviceAuthenticator`). */
  authenticator: Authenticator;
}

/** Builds the notify HTTP app without listening, so tests can boot it on an ephemeral port. */
export function createApp({ config, logger, db, redis, authenticator }: AppDeps): Express {
  return createHttpApp({
    service: 'notify',
    basePath: '/notify',
    logger,
    config,
    authenticator,
    readiness: { postgres: databaseCheck(db), redis: redisCheck(redis) },
    routes: () => {},
  });
}
