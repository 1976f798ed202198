import type { QueueName } from '@bursar/contracts';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { Logger } from '@bursar/platform';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ProcessorDeps {
  db: Kysely<DB>;
  logger: Logger;
  connection: Redis;
  prefix: string;
  concurrency: number;
}

/**
 * Starts the BullMQ worker for one queue. Each queue's processor is added
 * here as its feature lands; a queue listed without one is reported at start.
 */
export const processors: Partial<Record<QueueName, (deps: ProcessorDeps) => Worker>> = {};
