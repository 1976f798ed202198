import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { JobEnvelope, type JobDefinition } from '@bursar/contracts';
import type { Logger } from './logger.js';
import { jobDuration } from './metrics.js';

const tracer = trace.getTracer('@bursar/platform/queue');

export interface QueueOptions {
  /** A producer-role connection (fails fast while Redis is down). */
  connection: Redis;
  /** Key prefix, a hash tag such as `{bursar}`; tests pass their own. */
  prefix: string;
}

/** A typed producer for one job kind. */
export interface Producer<D extends JobDefinition> {
  queue: Queue;
  /** Validates the payload, stamps the trace context and enqueues under the deterministic job id. */
  enqueue(payload: z.infer<D['payload']>, options?: Pick<JobsOptions, 'delay' | 'priority'>): Promise<Job>;
  close(): Promise<void>;
}

export function createProducer<D extends JobDefinition>(definition: D, options: QueueOptions): Producer<D> {
  const queue = new Queue(definition.queue, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: {
      attempts: definition.attempts,
      backoff: definition.backoff,
      removeOnComplete: { age: 24 * 3600, count: 5_000 },
      // Failed jobs stay visible in the dashboard for a week.
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  return {
    queue,
    async enqueue(payload, jobOptions = {}) {
      const parsed = definition.payload.parse(payload) as z.infer<D['payload']>;
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      const envelope: JobEnvelope = { v: definition.version, payload: parsed, trace: carrier };
      return queue.add(definition.queue, envelope, { ...jobOptions, jobId: definition.jobId(parsed) });
    },
    close: () => queue.close(),
  };
}

export interface WorkerOptions {
  /** A worker-role connection (`maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  logger: Logger;
  concurrency?: number;
}

/**
 * A BullMQ worker for one job kind. A payload that does not match its schema or
 * version fails at once as unrecoverable (retrying cannot fix it); anything
 * else retries with the definition's backoff. Each job runs in a consumer span
 * whose parent is the producer's trace.
 */
export function createJobWorker<D extends JobDefinition>(
  definition: D,
  processor: (payload: z.infer<D['payload']>, job: Job) => Promise<unknown>,
  options: WorkerOptions,
): Worker {
  const logger = options.logger.child({ queue: definition.queue });
  const worker = new Worker(
    definition.queue,
    async (job: Job) => {
      const envelope = JobEnvelope.safeParse(job.data);
      if (!envelope.success || envelope.data.v !== definition.version) {
        throw new UnrecoverableError(`job ${job.id} has an envelope this worker cannot read`);
      }
      const payload = definition.payload.safeParse(envelope.data.payload);
      if (!payload.success) {
        throw new UnrecoverableError(`job ${job.id} payload is invalid: ${payload.error.message}`);
      }
      const parent = propagation.extract(ROOT_CONTEXT, envelope.data.trace);
      return tracer.startActiveSpan(
        `${definition.queue} process`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'bullmq',
            'messaging.destination.name': definition.queue,
            'messaging.message.id': job.id ?? '',
            'bullmq.attempt': job.attemptsMade + 1,
          },
        },
        parent,
        async (span) => {
          const stop = jobDuration.startTimer({ queue: definition.queue });
          try {
            const result = await processor(payload.data as z.infer<D['payload']>, job);
            stop({ outcome: 'completed' });
            return result;
          } catch (error) {
            stop({ outcome: 'failed' });
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        },
      );
    },
    { connection: options.connection, prefix: options.prefix, concurrency: options.concurrency ?? 4 },
  );
  worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) =>
    logger.warn({ err: error, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed'),
  );
  return worker;
}
