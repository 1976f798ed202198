import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineCatalog, defineJob, JOBS } from '@bursar/contracts';
import {
  createLogger,
  createOutboxRelay,
  createRedis,
  enqueue,
  Shutdown,
  transactionWithOutbox,
} from '@bursar/platform';
import { freshDatabase, startApp, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { planQueues, startWorkers, WorkerStartError } from './app.js';
import { loadServiceConfig } from './config.js';
import { processors as productionProcessors, type Processors } from './processors.js';
import { testDocuments } from './documents/documents.testing.js';
import { testWhatsAppDeps } from './whatsapp/whatsapp.testing.js';

const logger = createLogger('worker-test', 'silent');
const { url: databaseUrl, db } = await freshDatabase();

/** Test jobs: the production catalog has none yet. */
const chargeJob = defineJob({
  name: 'charge',
  queue: 'payments',
  version: 1,
  payload: z.object({ paymentId: z.uuid() }),
  attempts: 3,
  backoff: { type: 'fixed', delay: 10 },
  jobId: ({ paymentId }) => `charge.${paymentId}`,
});
const renderJob = defineJob({
  name: 'render',
  queue: 'invoice-pdf',
  version: 1,
  payload: z.object({ invoiceId: z.uuid() }),
  attempts: 2,
  backoff: { type: 'exponential', delay: 10 },
  jobId: ({ invoiceId }) => `render.${invoiceId}`,
});
const catalog = defineCatalog({ charge: chargeJob, render: renderJob });
type TestProcessors = Processors<typeof catalog>;
const noop = async () => undefined;
const complete: TestProcessors = { charge: noop, render: noop };

// @ts-expect-error a catalog job without its processor does not typecheck
const missingRender: TestProcessors = { charge: noop };

describe('which queues a worker runs', () => {
  it('refuses to start when a catalog job has no processor', () => {
    expect(() => planQueues(catalog, missingRender, undefined)).toThrow(WorkerStartError);
    expect(() => planQueues(catalog, missingRender, undefined)).toThrow(
      'job render (queue invoice-pdf) has no processor',
    );
  });

  it('refuses to start when WORKER_QUEUES names a queue with no job', () => {
    expect(() => planQueues(catalog, complete, ['payments', 'ai-drafts'])).toThrow(
      'WORKER_QUEUES names ai-drafts, which has no job in the catalog (queues with jobs: payments, invoice-pdf)',
    );
  });

  it('refuses a processor whose job is not in the catalog', () => {
    const extra = { ...complete, refund: noop } as TestProcessors;
    expect(() => planQueues(catalog, extra, undefined)).toThrow('processor refund has no job in the catalog');
  });

  it('runs every queue with a job by default, and only the named ones when told', () => {
    expect([...planQueues(catalog, complete, undefined)]).toEqual([
      ['payments', [chargeJob]],
      ['invoice-pdf', [renderJob]],
    ]);
    expect([...planQueues(catalog, complete, ['invoice-pdf']).keys()]).toEqual(['invoice-pdf']);
  });

  it('runs every queue with jobs in the production catalog, and refuses a named queue that has none yet', () => {
    expect([...planQueues(JOBS, productionProcessors, undefined).keys()]).toEqual([
      'payments',
      'invoice-pdf',
      'kpi-report',
      'whatsapp-campaign',
      'whatsapp-send',
    ]);
    expect(() => planQueues(JOBS, productionProcessors, ['ai-drafts'])).toThrow(
      'WORKER_QUEUES names ai-drafts, which has no job in the catalog ' +
        '(queues with jobs: payments, invoice-pdf, whatsapp-campaign, whatsapp-send, kpi-report)',
    );
  });
});

describe('a worker process', () => {
  const prefix = testQueuePrefix();
  const redis = createRedis(testRedisUrl(), 'producer');
  const shutdown = new Shutdown(logger, 20_000, () => undefined);
  const baseEnv = { DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix };
  const config = loadServiceConfig({
    ...baseEnv,
    WORKER_QUEUES: 'payments',
    OUTBOX_SWEEP_INTERVAL_MS: '100',
  });
  const charged: string[] = [];
  const gone = new Set<string>();
  const processors: TestProcessors = {
    async charge({ paymentId }, { db: database, outbox, job }) {
      expect(database).toBe(db);
      expect(outbox.kick).toBeTypeOf('function');
      if (gone.has(paymentId)) throw new UnrecoverableError(`payment ${paymentId} no longer exists`);
      charged.push(`${paymentId}@${job.attemptsMade + 1}`);
    },
    render: noop,
  };
  const documents = testDocuments(db);
  const whatsapp = testWhatsAppDeps();
  // runService gives a process its relay; here the test starts one the same way.
  const outbox = createOutboxRelay({ db, redis, prefix, logger, sweepIntervalMs: 100 });
  outbox.start();
  shutdown.add('outbox relay', () => outbox.stop(), 'workers');
  const started = startWorkers({
    config,
    logger,
    db,
    redis,
    shutdown,
    outbox,
    documents,
    whatsapp,
    catalog,
    processors,
  });
  const queue = new Queue(chargeJob.queue, { connection: redis, prefix });

  afterAll(async () => {
    await shutdown.run();
    await queue.obliterate({ force: true });
    await queue.close();
    await redis.quit();
  });

  async function eventually(check: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + 25_000;
    for (;;) {
      try {
        return await check();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  it('runs only the queues it was given and serves its health on its own port', async () => {
    expect(started.workers.map((worker) => worker.name)).toEqual(['payments']);
    const { url } = await startApp(started.app);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('runs a committed job end to end: outbox, relay, worker, row completed', async () => {
    const paymentId = randomUUID();
    await transactionWithOutbox(db, outbox, (trx) => enqueue(trx, chargeJob, { paymentId }));
    await eventually(async () => {
      const row = await db
        .selectFrom('outbox')
        .select(['completedAt'])
        .where('jobId', '=', `charge.${paymentId}`)
        .executeTakeFirstOrThrow();
      expect(row.completedAt).toBeInstanceOf(Date);
    });
    expect(charged).toEqual([`${paymentId}@1`]);
  });

  it('fails at once, without retrying, a job its processor declares can never succeed', async () => {
    const paymentId = randomUUID();
    gone.add(paymentId);
    await transactionWithOutbox(db, outbox, (trx) => enqueue(trx, chargeJob, { paymentId }));
    await eventually(async () => {
      expect(await queue.getJobState(`charge.${paymentId}`)).toBe('failed');
    });
    const job = await queue.getJob(`charge.${paymentId}`);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.opts.attempts).toBe(3);
    expect(job?.failedReason).toBe(`payment ${paymentId} no longer exists`);
    expect(charged.some((entry) => entry.startsWith(paymentId))).toBe(false);
  });

  it('refuses to start, before starting anything, when its configuration and catalog disagree', () => {
    const bad = loadServiceConfig({ ...baseEnv, WORKER_QUEUES: 'ai-drafts' });
    const before = new Shutdown(logger, 1_000, () => undefined);
    const add = vi.spyOn(before, 'add');
    expect(() =>
      startWorkers({
        config: bad,
        logger,
        db,
        redis,
        shutdown: before,
        outbox,
        documents,
        whatsapp,
        catalog,
        processors,
      }),
    ).toThrow(WorkerStartError);
    expect(add).not.toHaveBeenCalled();
  });
});
