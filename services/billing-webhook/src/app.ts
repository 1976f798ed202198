import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { databaseCheck, type DB } from '@bursar/db';
import { createHttpApp, redisCheck, type Logger } from '@bursar/platform';
import type { Config } from './config.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
}

/** Builds the billing-webhook HTTP app without listening, so tests can boot it on an ephemeral port. */
export function createApp({ config, logger, db, redis }: AppDeps): Express {
  return createHttpApp({
    service: 'billing-webhook',
    basePath: '/webhooks',
    logger,
    config,
    readiness: { postgres: databaseCheck(db), redis: redisCheck(redis) },
    routes: () => {},
  });
}
