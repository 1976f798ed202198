import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { ConfigError, type BaseConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createRedis, warnUnlessNoeviction } from './redis.js';
import { listen } from './server.js';
import { Shutdown } from './shutdown.js';

export interface ServiceContext<C> {
  config: C;
  logger: Logger;
  shutdown: Shutdown;
  /** A producer-role Redis connection, closed on shutdown. */
  redis: Redis;
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
  const logger = createLogger(definition.name, config.LOG_LEVEL);
  const shutdown = new Shutdown(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  const redis = createRedis(config.REDIS_URL, 'producer');
  redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
  redis.once('ready', () => void warnUnlessNoeviction(redis, logger));
  shutdown.add('redis', () => redis.quit().catch(() => redis.disconnect()));

  try {
    const app = await definition.start({ config, logger, shutdown, redis });
    const { port, host } = definition.listenOn(config);
    const { url } = await listen(app, port, shutdown, host ?? config.HOST);
    logger.info({ url }, `${definition.name} listening`);
  } catch (error) {
    logger.fatal({ err: error }, 'failed to start');
    await shutdown.run().catch(() => undefined);
    process.exit(1);
  }
}
