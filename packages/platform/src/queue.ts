import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  DelayedError,
  Queue,
  RateLimitError,
  UnrecoverableError,
  Worker,
  type Job,
  type JobsOptions,
} from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import type { z } from 'zod';
import { JobEnvelope, type JobDefinition } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import type { Logger } from './logger.js';
import { jobDuration, jobResults } from './metrics.js';

const tracer = trace.getTracer('@bursar/platform/queue');

/**
 * How long finished jobs stay in Redis. Completed jobs are kept a day so a late
 * duplicate enqueue (same deterministic id) is still a no-op; failed jobs stay
 * visible in the dashboard for a week.
 */
export const JOB_RETENTION: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: 24 * 3600, count: 5_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** The per-job options a definition implies: its retries and backoff, plus the retention above. */
export function jobOptionsOf(
  definition: Pick<JobDefinition, 'attempts' | 'backoff' | 'priority'> & {
    priorityOf?: (payload: never) => number | undefined;
  },
  payload?: unknown,
): JobsOptions {
  const fromPayload = payload === undefined ? undefined : definition.priorityOf?.(payload as never);
  const priority = fromPayload ?? definition.priority;
  return {
    attempts: definition.attempts,
    backoff: definition.backoff,
    ...(priority === undefined ? {} : { priority }),
    ...JOB_RETENTION,
  };
}

/** The definition's id for `payload`, refused when BullMQ could not take it as a custom id. */
export function jobIdOf<D extends JobDefinition>(definition: D, payload: z.infer<D['payload']>): string {
  const id = definition.jobId(payload);
  if (!id || id.includes(':')) throw new Error(`job ${definition.name} derived an invalid job id "${id}"`);
  return id;
}

/** The W3C trace context of the active span, to travel inside a job. */
export function currentTraceCarrier(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

export interface QueueOptions {
  /** A producer-role connection (fails fast while Redis is down). */
  connection: Redis;
  /** Key prefix, a hash tag such as `{bursar}`; tests pass their own. */
  prefix: string;
}

/**
 * A typed producer that adds straight to Redis, for callers with no database
 * change to commit alongside. Work caused by a committed change goes through
 * the outbox (`enqueue` in outbox.ts) instead, so a Redis outage cannot lose it.
 */
export interface Producer<D extends JobDefinition> {
  queue: Queue;
  /** Validates the payload, stamps the trace context and enqueues under the deterministic job id. */
  enqueue(payload: z.input<D['payload']>, options?: Pick<JobsOptions, 'delay' | 'priority'>): Promise<Job>;
  close(): Promise<void>;
}

/** Creates a {@link Producer} for one job kind on its queue. */
export function createProducer<D extends JobDefinition>(definition: D, options: QueueOptions): Producer<D> {
  const queue = new Queue(definition.queue, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: jobOptionsOf(definition),
  });
  return {
    queue,
    async enqueue(payload, jobOptions = {}) {
      const parsed = definition.payload.parse(payload) as z.infer<D['payload']>;
      const envelope: JobEnvelope = { v: definition.version, payload: parsed, trace: currentTraceCarrier() };
      return queue.add(definition.name, envelope, { ...jobOptions, jobId: jobIdOf(definition, parsed) });
    },
    close: () => queue.close(),
  };
}

/** One job kind a queue worker runs, with the function that processes its parsed payload. */
export interface JobHandler<D extends JobDefinition = JobDefinition> {
  definition: D;
  process: (payload: z.infer<D['payload']>, job: Job) => Promise<unknown>;
}

/**
 * Pairs a job kind with its processor, typed by the kind's payload, for a
 * worker that runs several kinds (whose handler list cannot keep each payload type).
 */
export function jobHandler<D extends JobDefinition>(
  definition: D,
  process: (payload: z.infer<D['payload']>, job: Job) => Promise<unknown>,
): JobHandler {
  return { definition, process } as JobHandler;
}

export interface WorkerOptions {
  /** A worker-role connection (`maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  logger: Logger;
  concurrency?: number;
  /** At most `max` jobs every `duration` ms across every worker of the queue (BullMQ's limiter). */
  limiter?: { max: number; duration: number };
  /**
   * Where the outbox lives: a job that came from an outbox row marks the row
   * completed when it succeeds, so the sweeper stops tracking it.
   */
  db?: Kysely<DB>;
}

/**
 * A BullMQ worker for one queue, dispatching each job to its kind's handler
 * by job name. A job of a kind this worker does not know, or whose envelope
 * version or payload does not match its definition, fails at once as
 * unrecoverable (retrying cannot fix it); anything else a handler throws
 * retries with the definition's backoff (a handler throws `UnrecoverableError`
 * itself for work that can never succeed, such as an entity that is gone).
 * Each job runs in a consumer span whose parent is the producer's trace.
 */
export function createQueueWorker(queue: string, handlers: JobHandler[], options: WorkerOptions): Worker {
  const logger = options.logger.child({ queue });
  const completions = options.db ? completionsFor(options.db, options.logger) : undefined;
  const byName = new Map(handlers.map((handler) => [handler.definition.name, handler]));
  for (const handler of handlers) {
    if (handler.definition.queue !== queue) {
      throw new Error(`job ${handler.definition.name} runs on ${handler.definition.queue}, not ${queue}`);
    }
  }
  const worker = new Worker(
    queue,
    async (job: Job) => {
      const handler = byName.get(job.name);
      if (!handler) throw new UnrecoverableError(`job ${job.id} is of kind ${job.name}, unknown on ${queue}`);
      const { definition } = handler;
      const envelope = JobEnvelope.safeParse(job.data);
      if (!envelope.success) {
        throw new UnrecoverableError(`job ${job.id} has an envelope this worker cannot read`);
      }
      if (envelope.data.v !== definition.version) {
        throw new UnrecoverableError(
          `job ${job.id} has envelope version ${envelope.data.v}; this worker reads ${definition.version}`,
        );
      }
      const payload = definition.payload.safeParse(envelope.data.payload);
      if (!payload.success) {
        throw new UnrecoverableError(`job ${job.id} payload is invalid: ${payload.error.message}`);
      }
      const parent = propagation.extract(ROOT_CONTEXT, envelope.data.trace);
      return tracer.startActiveSpan(
        `${queue} process`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'bullmq',
            'messaging.destination.name': queue,
            'messaging.message.id': job.id ?? '',
            'bullmq.job.name': job.name,
            'bullmq.attempt': job.attemptsMade + 1,
          },
        },
        parent,
        async (span) => {
          const stop = jobDuration.startTimer({ queue, job: definition.name });
          try {
            const result = await handler.process(payload.data, job);
            // Marked with the others that complete about now (see OutboxCompletions).
            if (envelope.data.outboxId && completions) completions.add(envelope.data.outboxId);
            stop({ outcome: 'completed' });
            const status = (result as { status?: unknown } | null | undefined)?.status;
            if (typeof status === 'string' && /^[a-z_]{1,40}$/.test(status)) {
              jobResults.inc({ queue, job: definition.name, status });
            }
            return result;
          } catch (error) {
            if (error instanceof DelayedError || error instanceof RateLimitError) {
              // The processor moved its own job to later (a step of long work, or the provider's
              // rate), and BullMQ puts it back without using an attempt: not a failure.
              stop({ outcome: 'delayed' });
              throw error;
            }
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
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 4,
      ...(options.limiter ? { limiter: options.limiter } : {}),
    },
  );
  // Closing waits for the active jobs, then for their outbox marks (before the pool closes).
  const close = worker.close.bind(worker);
  worker.close = async (force?: boolean) => {
    await close(force);
    await completions?.flush();
  };
  worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) =>
    logger.warn({ err: error, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed'),
  );
  return worker;
}

/** A BullMQ worker for a queue that runs a single job kind (see {@link createQueueWorker}). */
export function createJobWorker<D extends JobDefinition>(
  definition: D,
  processor: (payload: z.infer<D['payload']>, job: Job) => Promise<unknown>,
  options: WorkerOptions,
): Worker {
  return createQueueWorker(definition.queue, [jobHandler(definition, processor)], options);
}

/** How long a completed job's outbox row waits to be marked with others. */
const COMPLETION_FLUSH_MS = 50;
/** Marked at once when this many are waiting. */
const COMPLETION_BATCH = 500;

/**
 * Marks outbox rows completed a batch at a time: one UPDATE for every job
 * that completed in the last 50 ms, instead of one per job (a campaign's
 * sends and a batch's renders complete by the hundred a second). A crash
 * loses at most those 50 ms of marks; the rows are then only what the
 * sweeper looks up in Redis after a minute (finding the jobs completed, or
 * gone and run again by idempotent processors), never a lost job.
 */
class OutboxCompletions {
  private pending: bigint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly logger: Logger,
  ) {}

  add(outboxId: string): void {
    this.pending.push(BigInt(outboxId));
    if (this.pending.length >= COMPLETION_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), COMPLETION_FLUSH_MS);
  }

  /** Marks what is waiting; resolves once every mark asked for so far is written (or logged as failed). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ids = this.pending;
    this.pending = [];
    if (ids.length) {
      this.flushing = this.flushing.then(() =>
        this.db
          .updateTable('outbox')
          .set({ completedAt: sql<Date>`now()` })
          .where('id', 'in', ids)
          .where('completedAt', 'is', null)
          .execute()
          .then(
            () => undefined,
            (error: unknown) =>
              this.logger.warn(
                { err: error, rows: ids.length },
                'could not mark outbox rows completed; the sweeper will',
              ),
          ),
      );
    }
    return this.flushing;
  }
}

const completionsByDb = new WeakMap<Kysely<DB>, OutboxCompletions>();

function completionsFor(db: Kysely<DB>, logger: Logger): OutboxCompletions {
  let completions = completionsByDb.get(db);
  if (!completions) {
    completions = new OutboxCompletions(db, logger);
    completionsByDb.set(db, completions);
  }
  return completions;
}
