import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { databaseCheck, type DB } from '@bursar/db';
import { createHttpApp, redisCheck, type Logger, type OutboxRelay } from '@bursar/platform';
import type { Config } from './config.js';
import { mountSandboxRoutes } from './sandbox/sandbox.routes.js';
import { createSandboxStore, type SandboxStore } from './sandbox/sandbox.store.js';
import { mountWebhookRoutes } from './webhooks/webhooks.routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  /** The process's outbox relay, kicked after a webhook's row and job commit. */
  outbox: Pick<OutboxRelay, 'kick'>;
  /** The sandbox's memory (a fresh one unless a test shares it). Unused when PAYMENTS_PROVIDER=live. */
  sandbox?: SandboxStore;
}

/** Builds the billing-webhook HTTP app without listening, so tests can boot it on an ephemeral port. */
export function createApp({ config, logger, db, redis, outbox, sandbox }: AppDeps): Express {
  return createHttpApp({
    service: 'billing-webhook',
    basePath: '/webhooks',
    logger,
    config,
    readiness: { postgres: databaseCheck(db), redis: redisCheck(redis) },
    rawRoutes: (app) => {
      mountWebhookRoutes(app, { db, outbox, config });
      // Only a development stack fakes the providers; live, these paths are the 404 any unknown path is.
      if (config.PAYMENTS_PROVIDER === 'sandbox') {
        mountSandboxRoutes(app, { config, store: sandbox ?? createSandboxStore() });
      }
    },
    routes: () => {},
  });
}
