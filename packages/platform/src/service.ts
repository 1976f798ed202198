import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { createDb, type DB } from '@bursar/db';
import { createAuthenticator, jwksKeySource, type Authenticator } from './auth.js';
import { ConfigError, type BaseConfig } from './config.js';
import { createLogger, resolveLogFormat, type Logger } from './logger.js';
import { createOutboxRelay, type OutboxRelay } from './outbox.js';
import { createUserStates } from './user-state.js';
import { createRedis, warnUnlessNoeviction } from './redis.js';
import { listen } from './server.js';
import { Shutdown } from './shutdown.js';

export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  shutdown: Shutdown;
  /** A producer-role Redis connection, closed on shutdown. */
  redis: Redis;
  /** The process's PostgreSQL pool (`DATABASE_URL`), closed on shutdown after the servers and workers. */
  db: Kysely<DB>;
  /**
   * This process's outbox relay, already sweeping: kick it after a transaction
   * that enqueued (`transactionWithOutbox`). Stopped with the workers, before the pools close.
   */
  outbox: OutboxRelay;
}

export interface ServiceDefinition<C extends BaseConfig> {
  name: string;
  loadConfig: () => C;
  /** Port the HTTP app listens on, and the address to bind when it is not `HOST`. */
  listenOn: (config: C) => { port: number; host?: string };
  /** Builds the app (and anything else the process runs); register extra closers on `shutdown`. */
  start: (context: ServiceContext<C>) => Promise<Express>;
}

/**
 * Wires one process: validated config (exit 1 naming every bad variable),
 * logger, Redis, the app on its port, and graceful shutdown on SIGTERM/SIGINT.
 */
export async function runService<C extends BaseConfig>(definition: ServiceDefinition<C>): Promise<void> {
  let config: C;
  try {
    config = definition.loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(definition.name, config.LOG_LEVEL, { format: resolveLogFormat(config) });
  const shutdown = new Shutdown(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  const redis = createRedis(config.REDIS_URL, 'producer');
  redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
  redis.once('ready', () => void warnUnlessNoeviction(redis, logger));
  shutdown.add('redis', () => redis.quit().catch(() => redis.disconnect()));

  const db = createDb(config.DATABASE_URL, {
    max: config.DATABASE_POOL_MAX,
    onError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
    applicationName: `bursar-${definition.name}`,
  });
  shutdown.add('database', () => db.destroy());
  const outbox = createOutboxRelay({
    db,
    redis,
    prefix: config.QUEUE_PREFIX,
    logger,
    sweepIntervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
  });

  try {
    const app = await definition.start({ config, logger, shutdown, redis, db, outbox });
    // After start, so a worker's queue workers (added there) stop before the relay their jobs enqueue through;
    // and once Redis answers, so the first sweep does not report a Redis that is merely still connecting
    // (until then, and whenever Redis is away, committed rows wait in PostgreSQL).
    if (redis.status === 'ready') outbox.start();
    else redis.once('ready', () => outbox.start());
    shutdown.add('outbox relay', () => outbox.stop(), 'workers');
    const { port, host } = definition.listenOn(config);
    const { url } = await listen(app, port, shutdown, host ?? config.HOST);
    logger.info({ url }, `${definition.name} listening`);
  } catch (error) {
    logger.fatal({ err: error }, 'failed to start');
    await shutdown.run().catch(() => undefined);
    process.exit(1);
  }
}

/**
 * The authenticator of a service other than the api: tokens verified against
 * the api's JWKS (`AUTH_JWKS_URL`, cached, refetched when a token names an
 * unknown key), and users' current state read from the database with the
 * change listener, closed on shutdown.
 */
export function serviceAuthenticator(
  context: ServiceContext<BaseConfig & { AUTH_JWKS_URL: string }>,
): Authenticator {
  const { config, db, logger, shutdown } = context;
  const users = createUserStates({ db, listenUrl: config.DATABASE_URL, logger });
  shutdown.add('user change listener', () => users.close());
  return createAuthenticator({ keys: jwksKeySource({ url: config.AUTH_JWKS_URL }), users });
}
