import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Worker } from 'bullmq';
import { databaseCheck, type DB } from '@bursar/db';
import { createHttpApp, createRedis, redisCheck, type Logger, type Shutdown } from '@bursar/platform';
import type { Config } from './config.js';
import { processors } from './processors.js';

export interface WorkerDeps {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  shutdown: Shutdown;
}

/** Starts a BullMQ worker per configured queue and returns the private health app. */
export function startWorkers({ config, logger, db, redis, shutdown }: WorkerDeps): {
  app: Express;
  workers: Worker[];
} {
  const connection = createRedis(config.REDIS_URL, 'worker');
  connection.on('error', (error) => logger.warn({ err: error.message }, 'worker redis connection error'));
  const workers: Worker[] = [];
  for (const queue of config.WORKER_QUEUES) {
    const start = processors[queue];
    if (!start) {
      logger.info({ queue }, 'no processor registered for this queue yet; skipping');
      continue;
    }
    workers.push(
      start({ db, logger, connection, prefix: config.QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY }),
    );
  }
  // Workers finish their active jobs before the pools close.
  shutdown.add('workers', () => Promise.all(workers.map((worker) => worker.close())), 'workers');
  shutdown.add('worker redis', () => connection.quit());
  const app = createHttpApp({
    service: 'worker',
    basePath: '',
    logger,
    config,
    readiness: { postgres: databaseCheck(db), redis: redisCheck(redis) },
    routes: () => {},
  });
  return { app, workers };
}
