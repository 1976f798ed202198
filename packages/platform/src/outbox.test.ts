import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Queue, UnrecoverableError, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '@bursar/contracts';
import { createDb, type DB } from '@bursar/db';
import { freePort, freshDatabase, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { createLogger } from './logger.js';
import { createOutboxRelay, enqueue, transactionWithOutbox, type OutboxRelay } from './outbox.js';
import { createQueueWorker, jobHandler } from './queue.js';
import { createRedis } from './redis.js';

const logger = createLogger('outbox-test', 'silent');
const { url: databaseUrl, db } = await freshDatabase();

/** A job kind shaped like the real ones, defined here: the production catalog has none yet. */
const remindJob = defineJob({
  name: 'remind',
  queue: 'payments',
  version: 1,
  payload: z.object({ invoiceId: z.uuid() }),
  attempts: 3,
  backoff: { type: 'exponential', delay: 50 },
  jobId: ({ invoiceId }) => `remind.${invoiceId}`,
});

/** What the tests clean up after each case, in reverse order of creation. */
const cleanups: (() => Promise<unknown>)[] = [];
function later<T>(value: T, close: (value: T) => Promise<unknown>): T {
  cleanups.push(() => close(value));
  return value;
}

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  // The relays of one case must not pick up another case's rows under their own prefix.
  await db.deleteFrom('outbox').execute();
});

function withoutFakedClock(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { LD_PRELOAD: _preload, FAKETIME: _faketime, ...rest } = env;
  return rest;
}

/** A redis-server of this test's own, so it can be stopped and restarted empty. */
class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      // Under `pnpm test:future` the suite runs with libfaketime preloaded; Redis is a
      // real server from outside and keeps the real clock, like the shared one.
      { stdio: ['ignore', 'pipe', 'pipe'], env: withoutFakedClock(process.env) },
    );
    this.child = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    while (!output.includes('Ready to accept connections')) {
      if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Kills it outright, as a crash or an OOM kill would: nothing is saved. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

async function ownRedis(): Promise<OwnRedis> {
  const redis = new OwnRedis(await freePort());
  await redis.start();
  return later(redis, (r) => r.kill());
}

function producer(url: string): Redis {
  const redis = createRedis(url, 'producer');
  // Expected while the test's Redis is down; the relay reports what matters.
  redis.on('error', () => undefined);
  return later(redis, (r) => r.quit().catch(() => r.disconnect()));
}

/** Waits for a connection to be usable: a producer refuses commands while it is still connecting. */
async function ready(redis: Redis): Promise<Redis> {
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

function relay(options: {
  redis: Redis;
  prefix: string;
  db?: Kysely<DB>;
  checkAfterMs?: number;
}): OutboxRelay {
  const created = createOutboxRelay({
    db: options.db ?? db,
    redis: options.redis,
    prefix: options.prefix,
    logger,
    sweepIntervalMs: 50,
    checkAfterMs: options.checkAfterMs,
  });
  return later(created, (r) => r.stop());
}

function queueOf(redis: Redis, prefix: string): Queue {
  return later(new Queue(remindJob.queue, { connection: redis, prefix }), async (queue) => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  });
}

/** A worker that records each invoice id it processes and marks its outbox row completed. */
function recordingWorker(url: string, prefix: string, seen: string[]): Worker {
  const connection = createRedis(url, 'worker');
  connection.on('error', () => undefined);
  const worker = createQueueWorker(
    remindJob.queue,
    [
      jobHandler(remindJob, async ({ invoiceId }) => {
        seen.push(invoiceId);
      }),
    ],
    { connection, prefix, logger, db },
  );
  later(worker, async (w) => {
    await w.close();
    await connection.quit().catch(() => connection.disconnect());
  });
  return worker;
}

/** Polls until `check` passes; the deadline only bounds a broken run, nothing is timed. */
async function eventually(check: () => Promise<void> | void, what: string): Promise<void> {
  const deadline = Date.now() + 25_000;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A committed change that causes a job: here the change is the outbox row itself. */
async function commitReminder(relayed: Pick<OutboxRelay, 'kick'>): Promise<string> {
  const invoiceId = randomUUID();
  await transactionWithOutbox(db, relayed, (trx) => enqueue(trx, remindJob, { invoiceId }));
  return invoiceId;
}

async function outboxRows() {
  return db.selectFrom('outbox').selectAll().orderBy('id').execute();
}

/** Job events BullMQ wrote for the queue: one `added` per job created, one `duplicated` per add refused. */
async function queueEvents(redis: Redis, queue: Queue): Promise<Record<string, number>> {
  const entries = (await redis.xrange(queue.keys.events!, '-', '+')) as [string, string[]][];
  const counts: Record<string, number> = {};
  for (const [, fields] of entries) {
    const event = fields[fields.indexOf('event') + 1]!;
    counts[event] = (counts[event] ?? 0) + 1;
  }
  return counts;
}

describe('the outbox', () => {
  it('hands a change committed while Redis is down to the queue once Redis is back', async () => {
    const server = await ownRedis();
    const prefix = testQueuePrefix();
    const redis = producer(server.url);
    const outbox = relay({ redis, prefix });
    outbox.start();
    const seen: string[] = [];
    recordingWorker(server.url, prefix, seen);

    await server.kill();
    const invoiceId = await commitReminder(outbox);
    // The kick fails against the stopped Redis; it is logged, the caller's commit stands.
    await outbox.kick();
    await outbox.sweep();
    expect(await outboxRows()).toMatchObject([{ jobId: `remind.${invoiceId}`, relayedAt: null }]);

    await server.start();
    await eventually(async () => {
      expect(await outboxRows()).toMatchObject([{ completedAt: expect.any(Date) }]);
    }, 'the job to run after Redis returned');
    expect(seen).toEqual([invoiceId]);
    const [row] = await outboxRows();
    expect(row?.relayAttempts).toBe(1);
  });

  it('relays again, after Redis restarts empty, a job it had relayed but that had not completed', async () => {
    const server = await ownRedis();
    const prefix = testQueuePrefix();
    const redis = await ready(producer(server.url));
    const outbox = relay({ redis, prefix });
    const queue = queueOf(redis, prefix);

    // Relayed while Redis was up; no worker yet, so it waits in Redis.
    const before = await commitReminder(outbox);
    await outbox.kick();
    expect(await queue.getJobState(`remind.${before}`)).toBe('waiting');
    expect((await outboxRows())[0]?.relayedAt).toBeInstanceOf(Date);

    // Redis dies and comes back with nothing; meanwhile another change commits.
    await server.kill();
    const during = await commitReminder(outbox);
    await outbox.kick();
    await server.start();

    outbox.start();
    const seen: string[] = [];
    recordingWorker(server.url, prefix, seen);
    await eventually(async () => {
      const rows = await outboxRows();
      expect(rows.map((row) => row.completedAt)).toEqual([expect.any(Date), expect.any(Date)]);
    }, 'both jobs to run after Redis came back empty');
    expect(seen.sort()).toEqual([before, during].sort());
    const rows = await outboxRows();
    expect(rows.map((row) => [row.jobId, row.relayAttempts])).toEqual([
      [`remind.${before}`, 2],
      [`remind.${during}`, 1],
    ]);
  });

  it('looks up old relayed jobs and settles or relays again what it finds', async () => {
    const prefix = testQueuePrefix();
    const redis = await ready(producer(testRedisUrl()));
    const outbox = relay({ redis, prefix, checkAfterMs: 0 });
    const queue = queueOf(redis, prefix);

    // Jobs that finish while the worker cannot write to PostgreSQL (here: it has no database).
    const done = await commitReminder(outbox);
    const failed = await commitReminder(outbox);
    await outbox.kick();
    const connection = later(createRedis(testRedisUrl(), 'worker'), (r) => r.quit());
    const worker = later(
      createQueueWorker(
        remindJob.queue,
        [
          jobHandler(remindJob, async ({ invoiceId }) => {
            if (invoiceId === failed) throw new UnrecoverableError('the invoice is gone');
          }),
        ],
        { connection, prefix, logger },
      ),
      (w) => w.close(),
    );
    await eventually(async () => {
      expect(await queue.getJobState(`remind.${done}`)).toBe('completed');
      expect(await queue.getJobState(`remind.${failed}`)).toBe('failed');
    }, 'the jobs to finish');
    await worker.close();

    // As a Redis restored from an old snapshot would: the marker survives, the job does not.
    const lost = await commitReminder(outbox);
    // And one still waiting for a worker: looked at, left alone, and not looked at again at once.
    const waiting = await commitReminder(outbox);
    await outbox.kick();
    await queue.remove(`remind.${lost}`);

    await outbox.sweep();
    expect(await queue.getJobState(`remind.${lost}`)).toBe('waiting');
    const rows = Object.fromEntries((await outboxRows()).map((row) => [row.jobId, row]));
    expect(rows[`remind.${lost}`]).toMatchObject({ relayAttempts: 2, completedAt: null, failedAt: null });
    expect(rows[`remind.${done}`]).toMatchObject({ relayAttempts: 1, completedAt: expect.any(Date) });
    expect(rows[`remind.${waiting}`]).toMatchObject({
      relayAttempts: 1,
      completedAt: null,
      failedAt: null,
      checkedAt: expect.any(Date),
    });
    expect(await queue.getJobState(`remind.${waiting}`)).toBe('waiting');
    expect(rows[`remind.${failed}`]).toMatchObject({
      relayAttempts: 1,
      completedAt: null,
      failedAt: expect.any(Date),
      lastError: 'the invoice is gone',
    });
  });

  it('adds each job exactly once when kicks, sweeps and two relays race', async () => {
    const prefix = testQueuePrefix();
    const secondDb = later(createDb(databaseUrl, { max: 5 }), (pool) => pool.destroy());
    const redisA = await ready(producer(testRedisUrl()));
    const redisB = await ready(producer(testRedisUrl()));
    const relayA = relay({ redis: redisA, prefix });
    const relayB = relay({ redis: redisB, prefix, db: secondDb });
    const queue = queueOf(redisA, prefix);

    const changes = 40;
    const jobsPerChange = 5;
    let racing = true;
    const sweeper = async (outbox: OutboxRelay) => {
      while (racing) await outbox.sweep();
    };
    const sweepers = [sweeper(relayA), sweeper(relayB)];
    const invoiceIds = await Promise.all(
      Array.from({ length: changes }, async (_, change) => {
        const ids = Array.from({ length: jobsPerChange }, () => randomUUID());
        const kicker = change % 2 ? relayA : relayB;
        await transactionWithOutbox(db, kicker, async (trx) => {
          for (const invoiceId of ids) await enqueue(trx, remindJob, { invoiceId });
        });
        await Promise.all([relayA.kick(), relayB.kick(), relayA.kick(), relayB.kick()]);
        return ids;
      }),
    );
    racing = false;
    await Promise.all(sweepers);
    await Promise.all([relayA.sweep(), relayB.sweep()]);

    const total = changes * jobsPerChange;
    expect(await queue.getJobCountByTypes('waiting')).toBe(total);
    // BullMQ writes `duplicated` for an add whose id exists: none means no row was added twice.
    const events = await queueEvents(redisA, queue);
    expect(events.added).toBe(total);
    expect(events.duplicated ?? 0).toBe(0);
    const rows = await outboxRows();
    expect(rows).toHaveLength(total);
    expect(rows.every((row) => row.relayedAt !== null && row.relayAttempts === 1)).toBe(true);
    const expected = invoiceIds.flat().map((id) => `remind.${id}`);
    expect((await queue.getJobs(['waiting'], 0, -1)).map((job) => job.id).sort()).toEqual(expected.sort());
  });

  it('enqueues nothing from a transaction that rolls back or a payload that fails its schema', async () => {
    const prefix = testQueuePrefix();
    const redis = await ready(producer(testRedisUrl()));
    const outbox = relay({ redis, prefix });
    const queue = queueOf(redis, prefix);

    await expect(
      transactionWithOutbox(db, outbox, async (trx) => {
        await enqueue(trx, remindJob, { invoiceId: randomUUID() });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await expect(
      transactionWithOutbox(db, outbox, (trx) => enqueue(trx, remindJob, { invoiceId: 'not-a-uuid' })),
    ).rejects.toThrow(z.ZodError);
    await outbox.kick();
    await outbox.sweep();

    expect(await outboxRows()).toEqual([]);
    expect(await queue.getJobCounts()).toSatisfy((counts: Record<string, number>) =>
      Object.values(counts).every((count) => count === 0),
    );
    expect((await queueEvents(redis, queue)).added ?? 0).toBe(0);
  });

  it("carries the trace context of the transaction's span into the job", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    cleanups.push(async () => {
      trace.disable();
      propagation.disable();
      context.disable();
    });
    const prefix = testQueuePrefix();
    const redis = await ready(producer(testRedisUrl()));
    const outbox = relay({ redis, prefix });
    const queue = queueOf(redis, prefix);

    const { invoiceId, span } = await trace
      .getTracer('outbox-test')
      .startActiveSpan('record payment', async (active) => {
        try {
          return { invoiceId: await commitReminder(outbox), span: active.spanContext() };
        } finally {
          active.end();
        }
      });
    await outbox.kick();

    const job = await queue.getJob(`remind.${invoiceId}`);
    expect(job?.data).toMatchObject({ v: 1, payload: { invoiceId }, outboxId: expect.any(String) });
    expect(job?.data.trace.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
  });

  it('reports the backlog and the age of its oldest row', async () => {
    const { registry } = await import('./metrics.js');
    const server = await ownRedis();
    const redis = producer(server.url);
    const outbox = relay({ redis, prefix: testQueuePrefix() });
    await server.kill();
    await commitReminder(outbox);
    await commitReminder(outbox);
    await db
      .updateTable('outbox')
      .set({ createdAt: sql<Date>`now() - interval '90 seconds'` })
      .execute();

    await outbox.sweep();
    const backlog = await registry.getSingleMetricAsString('outbox_backlog');
    expect(backlog).toMatch(/^outbox_backlog 2$/m);
    const age = Number(
      /^outbox_oldest_age_seconds (\S+)$/m.exec(
        await registry.getSingleMetricAsString('outbox_oldest_age_seconds'),
      )?.[1],
    );
    expect(age).toBeGreaterThanOrEqual(90);
  });
});
