import { randomUUID } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { z } from 'zod';
import type { JobDefinition, JobEnvelope } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import type { Logger } from './logger.js';
import { outboxBacklog, outboxOldestAgeSeconds, outboxRelayed } from './metrics.js';
import { currentTraceCarrier, jobIdOf, jobOptionsOf } from './queue.js';

/** Transactions (and connections) that wrote an outbox row, so a commit only kicks the relay when needed. */
const enqueuedIn = new WeakSet<object>();

/**
 * Records a job in the outbox inside the caller's transaction: it reaches
 * BullMQ only if that transaction commits, and then even if Redis is down at
 * that moment (the relay's sweeper hands it over once Redis answers). The
 * payload is validated now, and the active trace context is stored with it so
 * the worker's span joins the trace of the request that caused the job.
 * After commit, call `relay.kick()` (or use {@link transactionWithOutbox}).
 */
export async function enqueue<D extends JobDefinition>(
  db: Kysely<DB> | Transaction<DB>,
  definition: D,
  payload: z.input<D['payload']>,
): Promise<{ outboxId: string; jobId: string }> {
  const parsed = definition.payload.parse(payload) as z.infer<D['payload']>;
  const jobId = jobIdOf(definition, parsed);
  const row = await db
    .insertInto('outbox')
    .values({
      jobName: definition.name,
      queue: definition.queue,
      jobId,
      version: definition.version,
      // Passed as JSON text: the pool's CamelCasePlugin would rename keys inside a jsonb value it reads.
      payload: JSON.stringify(parsed),
      trace: JSON.stringify(currentTraceCarrier()),
      options: JSON.stringify(jobOptionsOf(definition, parsed)),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  enqueuedIn.add(db);
  return { outboxId: String(row.id), jobId };
}

/** Rows per INSERT in {@link enqueueMany}: 8 parameters each, well under PostgreSQL's 65,535. */
const ENQUEUE_CHUNK = 1_000;

/**
 * {@link enqueue} for many jobs of one kind (a bulk render's items, a
 * campaign's sends) in multi-row inserts, inside the caller's transaction.
 */
export async function enqueueMany<D extends JobDefinition>(
  db: Kysely<DB> | Transaction<DB>,
  definition: D,
  payloads: z.input<D['payload']>[],
): Promise<number> {
  const trace = JSON.stringify(currentTraceCarrier());
  // One serialisation for the whole batch unless priorities differ per job.
  const shared = definition.priorityOf ? undefined : JSON.stringify(jobOptionsOf(definition));
  for (let start = 0; start < payloads.length; start += ENQUEUE_CHUNK) {
    const rows = payloads.slice(start, start + ENQUEUE_CHUNK).map((payload) => {
      const parsed = definition.payload.parse(payload) as z.infer<D['payload']>;
      return {
        jobName: definition.name,
        queue: definition.queue,
        jobId: jobIdOf(definition, parsed),
        version: definition.version,
        payload: JSON.stringify(parsed),
        trace,
        options: shared ?? JSON.stringify(jobOptionsOf(definition, parsed)),
      };
    });
    await db.insertInto('outbox').values(rows).execute();
  }
  if (payloads.length) enqueuedIn.add(db);
  return payloads.length;
}

/**
 * Puts the active trace context on the transaction, for the jobs the
 * database's own triggers write into the outbox (the invoice and receipt
 * renders a money change asks for, migration 0009): they then join the trace
 * of the request or job that changed the money. Call it first in a
 * transaction that moves money; without an active trace it does nothing.
 */
export async function stampTrace(trx: Transaction<DB>): Promise<void> {
  const carrier = currentTraceCarrier();
  if (Object.keys(carrier).length === 0) return;
  await sql`select set_config('bursar.trace', ${JSON.stringify(carrier)}, true)`.execute(trx);
}

/**
 * Runs `fn` in a transaction and, once it has committed, kicks the relay if
 * `fn` enqueued anything (through the transaction it was given), so the job
 * reaches Redis at once rather than at the next sweep.
 */
export async function transactionWithOutbox<T>(
  db: Kysely<DB>,
  relay: Pick<OutboxRelay, 'kick'>,
  fn: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  let enqueued = false;
  const result = await db.transaction().execute(async (trx) => {
    const value = await fn(trx);
    enqueued = enqueuedIn.has(trx);
    return value;
  });
  if (enqueued) void relay.kick();
  return result;
}

export interface OutboxRelayOptions {
  db: Kysely<DB>;
  /** A producer-role connection: commands fail fast while Redis is down, and the rows simply wait. */
  redis: Redis;
  /** BullMQ key prefix, the same one the workers use. */
  prefix: string;
  logger: Logger;
  /** How often the sweeper runs; 2 s by default. */
  sweepIntervalMs?: number;
  /** Rows taken per transaction; 1,000 by default (a campaign launch hands over 50,000 in 50 passes). */
  batchSize?: number;
  /**
   * A relayed job not completed after this long is looked up in Redis (it may
   * have been lost by a Redis restored from an old snapshot); 60 s by default.
   */
  checkAfterMs?: number;
  /** Finished rows are deleted after this long; 7 days by default. */
  retentionMs?: number;
}

/** Moves outbox rows to BullMQ. One per producing process; replicas may run side by side. */
export interface OutboxRelay {
  /** Relays what is waiting now; call after a commit that enqueued. Coalesces, logs failures, never rejects. */
  kick(): Promise<void>;
  /** One sweeper pass (relay, re-relay lost jobs, check old ones, clean up, update metrics). Never rejects. */
  sweep(): Promise<void>;
  /** Starts the periodic sweeper (its first pass runs at once). */
  start(): void;
  /** Stops the sweeper and waits for the pass in progress; register it before the pools close. */
  stop(): Promise<void>;
}

interface OutboxRow {
  id: bigint;
  jobName: string;
  queue: string;
  jobId: string;
  version: number;
  payload: string;
  trace: string;
  options: string;
}

/**
 * Creates an {@link OutboxRelay}. Rows are taken with `FOR UPDATE SKIP LOCKED`,
 * so kicks, sweeps and other replicas never hand over the same row at once,
 * and every add uses the row's deterministic job id, so an add repeated while
 * the job exists is a no-op.
 *
 * Redis restarting empty is detected with an epoch marker key: each relayed row
 * records the marker it found, and rows relayed under a marker that is gone are
 * relayed again. A Redis restored from an older snapshot keeps its old marker,
 * so relayed rows not completed after `checkAfterMs` are also looked up one by one.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, redis, prefix } = options;
  const logger = options.logger.child({ component: 'outbox-relay' });
  const sweepIntervalMs = options.sweepIntervalMs ?? 2_000;
  const batchSize = options.batchSize ?? 1000;
  const checkAfterSeconds = (options.checkAfterMs ?? 60_000) / 1000;
  const retentionSeconds = (options.retentionMs ?? 7 * 24 * 3600_000) / 1000;
  const epochKey = `${prefix}:outbox-epoch`;
  const queues = new Map<string, Queue>();
  let stopped = false;
  let redisFailing = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let relaying: Promise<void> | undefined;
  let queuedKick: Promise<void> | undefined;

  function queueFor(name: string): Queue {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: redis, prefix });
      queue.on('error', (error) => logger.warn({ err: error, queue: name }, 'outbox queue error'));
      queues.set(name, queue);
    }
    return queue;
  }

  /** The marker of the Redis we are talking to, set when missing (an empty Redis). Fails fast when Redis is down. */
  async function currentEpoch(): Promise<string> {
    const existing = await redis.get(epochKey);
    if (existing) return existing;
    await redis.set(epochKey, randomUUID(), 'NX');
    const epoch = await redis.get(epochKey);
    if (!epoch) throw new Error('the outbox epoch marker vanished as it was set');
    return epoch;
  }

  function selectRows(trx: Transaction<DB>) {
    return trx
      .selectFrom('outbox')
      .select(['id', 'jobName', 'queue', 'jobId', 'version'])
      .select([
        sql<string>`payload::text`.as('payload'),
        sql<string>`trace::text`.as('trace'),
        sql<string>`options::text`.as('options'),
      ])
      .limit(batchSize)
      .forUpdate()
      .skipLocked();
  }

  /** Adds rows to their queues under their job ids; an id that exists already is left alone by BullMQ. */
  async function addRows(rows: OutboxRow[]): Promise<void> {
    const byQueue = new Map<string, OutboxRow[]>();
    for (const row of rows) byQueue.set(row.queue, [...(byQueue.get(row.queue) ?? []), row]);
    for (const [name, queueRows] of byQueue) {
      await queueFor(name).addBulk(
        queueRows.map((row) => {
          const data: JobEnvelope = {
            v: row.version,
            payload: JSON.parse(row.payload) as unknown,
            trace: JSON.parse(row.trace) as Record<string, string>,
            outboxId: String(row.id),
          };
          const opts = { ...(JSON.parse(row.options) as JobsOptions), jobId: row.jobId };
          return { name: row.jobName, data, opts };
        }),
      );
    }
  }

  async function markRelayed(trx: Transaction<DB>, ids: bigint[], epoch: string): Promise<void> {
    await trx
      .updateTable('outbox')
      .set((eb) => ({
        relayedAt: sql<Date>`now()`,
        redisEpoch: epoch,
        checkedAt: null,
        relayAttempts: eb('relayAttempts', '+', 1),
      }))
      .where('id', 'in', ids)
      .execute();
  }

  /**
   * Hands one batch of rows to Redis and records the marker it found there;
   * returns how many. `narrow` picks which rows (never relayed, or relayed into
   * a Redis that has since come back empty).
   */
  async function relayBatch(
    reason: 'new' | 'lost',
    narrow: (query: ReturnType<typeof selectRows>, epoch: string) => ReturnType<typeof selectRows>,
  ): Promise<number> {
    // Read before adding: if Redis is emptied between the two, the row records the old marker
    // and is relayed again, never the other way round.
    const epoch = await currentEpoch();
    return db.transaction().execute(async (trx) => {
      const rows = await narrow(selectRows(trx), epoch).orderBy('id').execute();
      if (rows.length === 0) return 0;
      await addRows(rows);
      await markRelayed(
        trx,
        rows.map((row) => row.id),
        epoch,
      );
      outboxRelayed.inc({ reason }, rows.length);
      return rows.length;
    });
  }

  /** Hands over one batch of rows never relayed; returns how many. */
  function relayNewBatch(): Promise<number> {
    return relayBatch('new', (query) => query.where('relayedAt', 'is', null));
  }

  /** Relays again one batch of rows whose job went into a Redis that has since come back empty. */
  async function relayLostBatch(): Promise<number> {
    const count = await relayBatch('lost', (query, epoch) =>
      query
        .where('relayedAt', 'is not', null)
        .where('completedAt', 'is', null)
        .where('failedAt', 'is', null)
        .where((eb) => eb.or([eb('redisEpoch', 'is', null), eb('redisEpoch', '!=', epoch)])),
    );
    if (count > 0) {
      logger.warn({ count }, 'Redis came back without jobs it had been given; relayed them again');
    }
    return count;
  }

  /** Looks up relayed jobs that have not completed for a while; settles or relays again what it finds. */
  async function checkOldBatch(): Promise<void> {
    const epoch = await currentEpoch();
    await db.transaction().execute(async (trx) => {
      const due = sql<Date>`now() - make_interval(secs => ${checkAfterSeconds})`;
      const rows = await selectRows(trx)
        .where('relayedAt', 'is not', null)
        .where('completedAt', 'is', null)
        .where('failedAt', 'is', null)
        .where('redisEpoch', '=', epoch)
        .where('relayedAt', '<', due)
        .where((eb) => eb.or([eb('checkedAt', 'is', null), eb('checkedAt', '<', due)]))
        .orderBy('relayedAt')
        .execute();
      // Every row's job looked up at once (one connection, no wait between them), and the rows
      // settled a statement per outcome, not per row: a backlog of thousands is a few round trips.
      const states = await Promise.all(rows.map((row) => queueFor(row.queue).getJobState(row.jobId)));
      const missing: OutboxRow[] = [];
      const completed: bigint[] = [];
      const pending: bigint[] = [];
      for (const [index, row] of rows.entries()) {
        const state = states[index];
        if (state === 'completed') {
          // The worker could not mark it (its database write failed after the job succeeded).
          completed.push(row.id);
        } else if (state === 'failed') {
          const job = await queueFor(row.queue).getJob(row.jobId);
          await trx
            .updateTable('outbox')
            .set({ failedAt: sql<Date>`now()`, lastError: job?.failedReason ?? null })
            .where('id', '=', row.id)
            .execute();
        } else if (state === 'unknown') {
          missing.push(row);
        } else {
          pending.push(row.id);
        }
      }
      for (const [column, ids] of [
        ['completedAt', completed],
        ['checkedAt', pending],
      ] as const) {
        if (ids.length) {
          await trx
            .updateTable('outbox')
            .set(column, sql<Date>`now()`)
            .where('id', 'in', ids)
            .execute();
        }
      }
      if (missing.length) {
        await addRows(missing);
        await markRelayed(
          trx,
          missing.map((row) => row.id),
          epoch,
        );
        outboxRelayed.inc({ reason: 'lost' }, missing.length);
        logger.warn({ count: missing.length }, 'jobs were missing from Redis; relayed them again');
      }
    });
  }

  async function deleteFinished(): Promise<void> {
    const cutoff = sql<Date>`now() - make_interval(secs => ${retentionSeconds})`;
    for (const column of ['completedAt', 'failedAt'] as const) {
      await db
        .deleteFrom('outbox')
        .where('id', 'in', (eb) =>
          eb.selectFrom('outbox').select('id').where(column, '<', cutoff).limit(1_000),
        )
        .execute();
    }
  }

  async function updateMetrics(): Promise<void> {
    const row = await db
      .selectFrom('outbox')
      .select([
        sql<string>`count(*)`.as('backlog'),
        sql<string | null>`extract(epoch from now() - min(created_at))`.as('oldest'),
      ])
      .where('relayedAt', 'is', null)
      .executeTakeFirstOrThrow();
    outboxBacklog.set(Number(row.backlog));
    outboxOldestAgeSeconds.set(row.oldest === null ? 0 : Number(row.oldest));
  }

  /** Runs a step, logging instead of throwing; Redis being down is one warning per outage, not one per pass. */
  async function attempt(step: string, run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run();
      if (redisFailing && step !== 'metrics' && step !== 'cleanup') {
        redisFailing = false;
        logger.info('outbox relay reaches Redis again');
      }
      return true;
    } catch (error) {
      const redisDown = redis.status !== 'ready';
      if (redisDown && redisFailing)
        logger.debug({ err: error, step }, 'outbox relay still waiting for Redis');
      else if (redisDown)
        logger.warn({ err: error, step }, 'outbox relay cannot reach Redis; rows wait in PostgreSQL');
      else logger.error({ err: error, step }, 'outbox relay step failed');
      if (redisDown) redisFailing = true;
      return false;
    }
  }

  async function relayAllNew(): Promise<void> {
    await attempt('relay', async () => {
      while ((await relayNewBatch()) === batchSize && !stopped);
    });
  }

  async function sweep(): Promise<void> {
    await relayAllNew();
    await attempt('relay lost', async () => {
      while ((await relayLostBatch()) === batchSize && !stopped);
    });
    await attempt('check', checkOldBatch);
    await attempt('cleanup', deleteFinished);
    await attempt('metrics', updateMetrics);
  }

  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    // A pass that has not started yet will see every row committed before it starts.
    if (queuedKick) return queuedKick;
    const run = async (): Promise<void> => {
      queuedKick = undefined;
      const pass = relayAllNew();
      relaying = pass;
      await pass;
      if (relaying === pass) relaying = undefined;
    };
    queuedKick = (relaying ?? Promise.resolve()).then(run);
    return queuedKick;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      sweeping = sweep().finally(() => {
        sweeping = undefined;
        schedule(sweepIntervalMs);
      });
    }, delay);
    // The shutdown registry stops the sweeper; it must never be what keeps a process alive.
    timer.unref();
  }

  return {
    kick,
    sweep,
    start() {
      if (timer || stopped) return;
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([sweeping, relaying, queuedKick]);
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      queues.clear();
    },
  };
}
