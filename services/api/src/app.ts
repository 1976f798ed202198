import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { databaseCheck, type DB } from '@bursar/db';
import {
  createAuthenticator,
  createHttpApp,
  gated,
  jwksKeySource,
  redisCheck,
  type Logger,
  type OutboxRelay,
  type UserStates,
} from '@bursar/platform';
import type { Config } from './config.js';
import type { PublishDeps } from '@bursar/documents';
import type { ApiContext } from './context.js';
import type { SigningKeys } from './auth/keys.js';
import { createLoginLimiter } from './auth/rate-limit.js';
import { authRoutes } from './auth/auth.routes.js';
import { schoolsRoutes } from './schools/schools.routes.js';
import { usersRoutes } from './users/users.routes.js';
import { classesRoutes } from './classes/classes.routes.js';
import { studentsRoutes } from './students/students.routes.js';
import { guardiansRoutes } from './guardians/guardians.routes.js';
import { feePlansRoutes } from './fee-plans/fee-plans.routes.js';
import { invoicesRoutes } from './invoices/invoices.routes.js';
import { paymentsRoutes } from './payments/payments.routes.js';
import { paymentLinksRoutes } from './online-payments/payment-links.routes.js';
import { reconciliationRoutes } from './online-payments/reconciliation.routes.js';
import { statementsRoutes } from './statements/statements.routes.js';
import { auditRoutes } from './audit/audit.routes.js';
import { openapiRoutes } from './openapi/openapi.routes.js';
import { documentsRoutes } from './documents/documents.routes.js';
import { reportsRoutes } from './reports/reports.routes.js';
import { analyticsRoutes } from './analytics/analytics.routes.js';
import { createAdminApp } from './admin/admin.routes.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  keys: SigningKeys;
  /** Users' current role and status (`createUserStates`, listening on the database in production). */
  userStates: UserStates;
  /** The process's outbox relay (runService's); tests pass one of their own. */
  outbox: Pick<OutboxRelay, 'kick'>;
  /** See `createDocumentDeps`. */
  documents: PublishDeps;
}

/** Builds the api HTTP app without listening, so tests can boot it on an ephemeral port. */
export function createApp({
  config,
  logger,
  db,
  redis,
  keys,
  userStates,
  outbox,
  documents,
}: AppDeps): Express {
  const context: ApiContext = {
    config,
    logger,
    db,
    redis,
    keys,
    loginLimiter: createLoginLimiter(redis, config.QUEUE_PREFIX),
    userStates,
    outbox,
    documents,
  };
  return createHttpApp({
    service: 'api',
    basePath: '/api',
    logger,
    config,
    authenticator: createAuthenticator({ keys: jwksKeySource({ jwks: keys.jwks }), users: userStates }),
    readiness: {
      postgres: databaseCheck(db),
      redis: redisCheck(redis),
      storage: () => documents.storage.check(),
    },
    routes: (app) => {
      // Each feature router is entered only by requests its routes could match (see `gated`).
      app.use(gated(authRoutes(context)));
      app.use(gated(schoolsRoutes(context)));
      app.use(gated(usersRoutes(context)));
      app.use(gated(classesRoutes(context)));
      app.use(gated(studentsRoutes(context)));
      app.use(gated(guardiansRoutes(context)));
      app.use(gated(feePlansRoutes(context)));
      // Before the invoice routes: `/api/invoices/pdf` is not an invoice id.
      app.use(gated(documentsRoutes(context)));
      app.use(gated(invoicesRoutes(context)));
      app.use(gated(paymentsRoutes(context)));
      app.use(gated(paymentLinksRoutes(context)));
      app.use(gated(reconciliationRoutes(context)));
      app.use(gated(statementsRoutes(context)));
      app.use(gated(reportsRoutes(context)));
      app.use(gated(analyticsRoutes(context)));
      app.use(gated(auditRoutes(context)));
      // Last, so it never shadows a feature route; it documents every router above.
      app.use(openapiRoutes());
      // The job dashboard (/admin/*): an express app of its own, with Bull Board mounted inside it.
      app.use(createAdminApp(context).app);
    },
  });
}
