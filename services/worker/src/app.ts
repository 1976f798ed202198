import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { Queue, type Worker } from 'bullmq';
import { QueueName, type JobCatalog, type JobDefinition } from '@bursar/contracts';
import { databaseCheck, type DB } from '@bursar/db';
import {
  createHttpApp,
  createQueueWorker,
  watchQueueCounts,
  createRedis,
  jobHandler,
  redisCheck,
  type Logger,
  type OutboxRelay,
  type Shutdown,
} from '@bursar/platform';
import type { PublishDeps } from '@bursar/documents';
import type { WhatsAppDeps } from './whatsapp/context.js';
import type { Config } from './config.js';
import type { Processor, Processors } from './processors.js';

/** The worker cannot run as configured: its catalog, processors and `WORKER_QUEUES` disagree. */
export class WorkerStartError extends Error {
  constructor(readonly problems: string[]) {
    super(`the worker cannot start:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'WorkerStartError';
  }
}

/**
 * Which jobs run on which queue in this process. Every catalog job must have
 * a processor (the `Processors` type says so; this catches a cast or plain
 * JavaScript), no processor may be left without its job, and every queue
 * `WORKER_QUEUES` names must have a job; otherwise it throws
 * {@link WorkerStartError} listing every problem.
 */
export function planQueues<C extends JobCatalog>(
  catalog: C,
  processors: Processors<C>,
  requested: readonly QueueName[] | undefined,
): Map<QueueName, JobDefinition[]> {
  const problems: string[] = [];
  const table = processors as Record<string, unknown>;
  const byQueue = new Map<QueueName, JobDefinition[]>();
  for (const definition of Object.values(catalog)) {
    if (typeof table[definition.name] !== 'function') {
      problems.push(`job ${definition.name} (queue ${definition.queue}) has no processor`);
    }
    byQueue.set(definition.queue, [...(byQueue.get(definition.queue) ?? []), definition]);
  }
  for (const name of Object.keys(table)) {
    if (!(name in catalog)) problems.push(`processor ${name} has no job in the catalog`);
  }
  for (const queue of requested ?? []) {
    if (!byQueue.has(queue)) {
      const withJobs = [...byQueue.keys()];
      problems.push(
        `WORKER_QUEUES names ${queue}, which has no job in the catalog ` +
          `(queues with jobs: ${withJobs.length ? withJobs.join(', ') : 'none yet'})`,
      );
    }
  }
  if (problems.length) throw new WorkerStartError(problems);
  // In QueueName order, so logs and start-up are the same on every replica.
  const wanted = QueueName.options.filter(
    (queue) => byQueue.has(queue) && (!requested || requested.includes(queue)),
  );
  return new Map(wanted.map((queue) => [queue, byQueue.get(queue)!]));
}

export interface WorkerDeps<C extends JobCatalog> {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  /** The process's producer-role connection. */
  redis: Redis;
  /** The process's outbox relay (runService's): processors enqueue follow-ups through it. */
  outbox: OutboxRelay;
  /** How PDFs are rendered and stored (see `createDocumentDeps`). */
  documents: PublishDeps;
  /** The WhatsApp provider and what sends need (see `createWhatsAppDeps`). */
  whatsapp: WhatsAppDeps;
  shutdown: Shutdown;
  catalog: C;
  processors: Processors<C>;
}

/**
 * Checks the catalog against the processors and `WORKER_QUEUES` (throwing
 * {@link WorkerStartError}), starts one BullMQ worker per queue this replica
 * runs and this process's outbox relay, and returns the private health app.
 */
export function startWorkers<C extends JobCatalog>({
  config,
  logger,
  db,
  redis,
  shutdown,
  catalog,
  processors,
  outbox,
  documents,
  whatsapp,
}: WorkerDeps<C>): { app: Express; workers: Worker[] } {
  const plan = planQueues(catalog, processors, config.WORKER_QUEUES);

  const workers: Worker[] = [];
  if (plan.size === 0) {
    logger.info('the job catalog has no jobs yet; this worker runs no queue');
  } else {
    const connection = createRedis(config.REDIS_URL, 'worker');
    connection.on('error', (error) => logger.warn({ err: error.message }, 'worker redis connection error'));
    for (const [queue, definitions] of plan) {
      const handlers = definitions.map((definition) => {
        const process = (processors as Record<string, Processor<JobDefinition>>)[definition.name]!;
        return jobHandler(definition, (payload, job) =>
          process(payload, { db, logger, outbox, documents, whatsapp, job }),
        );
      });
      workers.push(
        createQueueWorker(queue, handlers, {
          connection,
          prefix: config.QUEUE_PREFIX,
          logger,
          concurrency:
            queue === 'whatsapp-send' ? config.WHATSAPP_SEND_CONCURRENCY : config.WORKER_CONCURRENCY,
          // The number's messages-per-second tier, shared by every worker of the queue.
          ...(queue === 'whatsapp-send' ? { limiter: { max: config.WHATSAPP_MPS, duration: 1_000 } } : {}),
          db,
        }),
      );
    }
    // Their job counts on /metrics, read through the producer connection (fails fast while Redis is down).
    const counted = [...plan.keys()].map(
      (queue) => new Queue(queue, { connection: redis, prefix: config.QUEUE_PREFIX }),
    );
    watchQueueCounts(counted);
    shutdown.add('queue counts', () => Promise.all(counted.map((queue) => queue.close())));
    logger.info({ queues: [...plan.keys()] }, 'running queues');
    shutdown.add('worker redis', () => connection.quit());
  }
  // Workers finish their active jobs (which may enqueue follow-ups); runService then stops the relay and closes the pools.
  shutdown.add('workers', () => Promise.all(workers.map((worker) => worker.close())), 'workers');
  const app = createHttpApp({
    service: 'worker',
    basePath: '',
    logger,
    config,
    readiness: {
      postgres: databaseCheck(db),
      redis: redisCheck(redis),
      storage: () => documents.storage.check(),
    },
    routes: () => {},
  });
  return { app, workers };
}
