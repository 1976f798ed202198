import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { databaseCheck, type DB } from '@bursar/db';
import {
  createHttpApp,
  gated,
  redisCheck,
  type Authenticator,
  type Logger,
  type OutboxRelay,
} from '@bursar/platform';
import type { WhatsAppProvider } from '@bursar/whatsapp';
import { campaignsRoutes } from './campaigns/campaigns.routes.js';
import type { Config } from './config.js';
import type { NotifyContext } from './context.js';
import { settingsRoutes } from './settings/settings.routes.js';
import { templatesRoutes } from './templates/templates.routes.js';
import { mountWhatsAppWebhooks } from './webhooks/webhooks.routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  /** Checks Bursar's access tokens against the api's JWKS (`serviceAuthenticator`). */
  authenticator: Authenticator;
  /** The process's outbox relay (runService's), kicked after a commit that enqueued; tests pass their own. */
  outbox: Pick<OutboxRelay, 'kick'>;
  /** `createWhatsAppProvider(config)`; tests point it at the sandbox. */
  provider: WhatsAppProvider;
}

/** Builds the notify HTTP app without listening, so tests can boot it on an ephemeral port. */
export function createApp({ config, logger, db, redis, authenticator, outbox, provider }: AppDeps): Express {
  const context: NotifyContext = { config, logger, db, outbox, provider };
  return createHttpApp({
    service: 'notify',
    basePath: '/notify',
    logger,
    config,
    authenticator,
    readiness: { postgres: databaseCheck(db), redis: redisCheck(redis) },
    // Caddy sends /webhooks/whatsapp/* here; the signature is over the raw bytes, so before the JSON parser.
    rawRoutes: (app) => mountWhatsAppWebhooks(app, context),
    routes: (app) => {
      app.use(gated(templatesRoutes(context)));
      app.use(gated(campaignsRoutes(context)));
      app.use(gated(settingsRoutes(context)));
    },
  });
}
