import { randomUUID } from 'node:crypto';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, type JobDefinition } from '@bursar/contracts';
import { testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { createLogger } from './logger.js';
import { registry, watchQueueCounts } from './metrics.js';
import { createJobWorker, createProducer, type Producer } from './queue.js';
import { createRedis } from './redis.js';

const logger = createLogger('queue-test', 'silent');
const prefix = testQueuePrefix();
const producerRedis = createRedis(testRedisUrl(), 'producer');
const workerRedis = createRedis(testRedisUrl(), 'worker');

const InvoicePayload = z.object({ invoiceId: z.uuid() });

/** A job kind shaped like the real ones: ids only, a deterministic id, retries with backoff. */
const echoJob = defineJob({
  name: 'echo',
  queue: 'payments',
  version: 1,
  payload: InvoicePayload,
  attempts: 3,
  backoff: { type: 'fixed', delay: 10 },
  jobId: ({ invoiceId }) => `echo.${invoiceId}`,
});

const flakyJob = defineJob({
  name: 'flaky',
  queue: 'invoice-pdf',
  version: 1,
  payload: InvoicePayload,
  attempts: 3,
  backoff: { type: 'fixed', delay: 10 },
  jobId: ({ invoiceId }) => `flaky.${invoiceId}`,
});

type Payload = z.infer<typeof InvoicePayload>;

/**
 * Resolves when `worker` completes `jobId`, rejects when the job fails for good
 * (a failed attempt that will be retried is ignored). Call before enqueuing.
 */
function completion(worker: Worker, jobId: string): Promise<Job> {
  return settle(worker, jobId, 'completed');
}

/** Resolves when `worker` fails `jobId` for good; rejects if it completes. Call before enqueuing. */
function finalFailure(worker: Worker, jobId: string): Promise<Job> {
  return settle(worker, jobId, 'failed');
}

function settle(worker: Worker, jobId: string, expected: 'completed' | 'failed'): Promise<Job> {
  return new Promise((resolve, reject) => {
    const done = (job: Job, outcome: 'completed' | 'failed', error?: Error) => {
      worker.off('completed', onCompleted);
      worker.off('failed', onFailed);
      if (outcome === expected) resolve(job);
      else reject(error ?? new Error(`job ${jobId} ${outcome}, expected ${expected}`));
    };
    const onCompleted = (job: Job) => {
      if (job.id === jobId) done(job, 'completed');
    };
    const onFailed = (job: Job | undefined, error: Error) => {
      // finishedOn is only set when BullMQ moves the job to the failed set (no retry left).
      if (job?.id === jobId && job.finishedOn) done(job, 'failed', error);
    };
    worker.on('completed', onCompleted);
    worker.on('failed', onFailed);
  });
}

describe('job queues', () => {
  const exporter = new InMemorySpanExporter();
  const contextManager = new AsyncLocalStorageContextManager();
  const echoSeen: { payload: Payload; attempt: number }[] = [];
  const flakyAttempts = new Map<string, number[]>();
  const producers: Producer<JobDefinition>[] = [];
  const workers: Worker[] = [];
  let echo: Producer<typeof echoJob>;
  let flaky: Producer<typeof flakyJob>;
  let echoWorker: Worker;
  let flakyWorker: Worker;

  beforeAll(async () => {
    // A real SDK so the consumer span's parent can be checked; the services get theirs from NodeSDK.
    context.setGlobalContextManager(contextManager.enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );

    echo = createProducer(echoJob, { connection: producerRedis, prefix });
    flaky = createProducer(flakyJob, { connection: producerRedis, prefix });
    producers.push(echo, flaky);
    echoWorker = createJobWorker(
      echoJob,
      async (payload, job) => {
        echoSeen.push({ payload, attempt: job.attemptsMade + 1 });
        return { echoed: payload.invoiceId, status: 'echoed' };
      },
      { connection: workerRedis, prefix, logger },
    );
    flakyWorker = createJobWorker(
      flakyJob,
      async ({ invoiceId }, job) => {
        const attempts = flakyAttempts.get(invoiceId) ?? [];
        attempts.push(job.attemptsMade + 1);
        flakyAttempts.set(invoiceId, attempts);
        if (attempts.length === 1) throw new Error('transient failure');
        return 'ok';
      },
      { connection: workerRedis, prefix, logger },
    );
    workers.push(echoWorker, flakyWorker);
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    for (const producer of producers) {
      await producer.queue.obliterate({ force: true });
      await producer.close();
    }
    await Promise.all([producerRedis.quit(), workerRedis.quit()]);
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it('processes an enqueued job with its parsed payload', async () => {
    const payload = { invoiceId: randomUUID() };
    const done = completion(echoWorker, echoJob.jobId(payload));
    const job = await echo.enqueue(payload);
    expect(job.id).toBe(`echo.${payload.invoiceId}`);
    expect(job.data).toEqual({ v: 1, payload, trace: expect.any(Object) });

    const completed = await done;
    expect(completed.returnvalue).toEqual({ echoed: payload.invoiceId, status: 'echoed' });
    expect(echoSeen.filter((seen) => seen.payload.invoiceId === payload.invoiceId)).toEqual([
      { payload, attempt: 1 },
    ]);
  });

  it('rejects a payload that does not match the schema before enqueuing', async () => {
    await expect(echo.enqueue({ invoiceId: 'not-a-uuid' })).rejects.toThrow(z.ZodError);
  });

  it('runs the same work once however many times it is enqueued', async () => {
    const payload = { invoiceId: randomUUID() };
    const id = echoJob.jobId(payload);
    const done = completion(echoWorker, id);
    const [first, second] = await Promise.all([echo.enqueue(payload), echo.enqueue(payload)]);
    expect(first.id).toBe(id);
    expect(second.id).toBe(id);
    await done;

    // The completed job is kept (removeOnComplete by age), so a late duplicate is a no-op too.
    const late = await echo.enqueue(payload);
    expect(late.id).toBe(id);
    expect(await echo.queue.getJobState(id)).toBe('completed');
    const pending = await echo.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
    expect(
      Object.values(pending).every((count) => count === 0),
      JSON.stringify(pending),
    ).toBe(true);
    expect(echoSeen.filter((seen) => seen.payload.invoiceId === payload.invoiceId)).toHaveLength(1);
  });

  it.each([
    ['a payload that fails the schema', 'bad-payload', { v: 1, payload: { invoiceId: 'nope' }, trace: {} }],
    ['an envelope of another version', 'bad-version', { v: 2, payload: { invoiceId: randomUUID() } }],
    ['data that is not an envelope', 'bad-envelope', { invoiceId: randomUUID() }],
    ['a job of a kind the queue does not run', 'bad-kind', { v: 1, payload: { invoiceId: randomUUID() } }],
  ])('fails %s at once as unrecoverable and keeps it in the failed set', async (_case, id, data) => {
    const failed = finalFailure(echoWorker, id);
    // Added raw: the typed producer would refuse it.
    await echo.queue.add(id === 'bad-kind' ? 'no-such-job' : echoJob.name, data, { jobId: id });
    await failed;

    const job = await echo.queue.getJob(id);
    expect(job?.opts.attempts).toBe(3);
    expect(job?.attemptsMade).toBe(1);
    const reasons: Record<string, RegExp> = {
      'bad-payload': /payload is invalid/,
      'bad-version': /envelope version 2; this worker reads 1/,
      'bad-envelope': /envelope this worker cannot read/,
      'bad-kind': /of kind no-such-job, unknown on payments/,
    };
    expect(job?.failedReason).toMatch(reasons[id]!);
    expect(await echo.queue.getJobState(id)).toBe('failed');
    expect((await echo.queue.getFailed()).map((failedJob) => failedJob.id)).toContain(id);
    expect(echoSeen.some((seen) => JSON.stringify(seen.payload).includes('nope'))).toBe(false);
  });

  it('retries a job that throws, with the attempts and backoff of its definition', async () => {
    const payload = { invoiceId: randomUUID() };
    const id = flakyJob.jobId(payload);
    const done = completion(flakyWorker, id);
    const job = await flaky.enqueue(payload);
    expect(job.opts).toMatchObject({ attempts: 3, backoff: { type: 'fixed', delay: 10 } });

    const completed = await done;
    expect(completed.returnvalue).toBe('ok');
    expect(flakyAttempts.get(payload.invoiceId)).toEqual([1, 2]);
    const stored = await flaky.queue.getJob(id);
    expect(stored?.attemptsMade).toBe(2);
    expect(await flaky.queue.getJobState(id)).toBe('completed');
  });

  it('counts on /metrics each failed attempt and each result by job name, and the jobs per queue and state', async () => {
    /** The value of one series as Prometheus would scrape it (a histogram's by its `_count` series). */
    const series = async (name: string, labels: Record<string, string>, metricName = name) => {
      const metric = (await registry.getMetricsAsJSON()).find((each) => each.name === name);
      const value = (metric?.values ?? []).find(
        (each) =>
          ((each as { metricName?: string }).metricName ?? name) === metricName &&
          Object.entries(labels).every(([key, wanted]) => String(each.labels[key]) === wanted),
      );
      return value?.value ?? 0;
    };
    const failedAttempts = () =>
      series('job_duration_seconds', { job: 'flaky', outcome: 'failed' }, 'job_duration_seconds_count');
    watchQueueCounts([flaky.queue, echo.queue]);
    const failedBefore = await failedAttempts();
    const echoedBefore = await series('job_results_total', { job: 'echo', status: 'echoed' });

    const payload = { invoiceId: randomUUID() };
    const done = completion(flakyWorker, flakyJob.jobId(payload));
    await flaky.enqueue(payload);
    await done;
    const echoPayload = { invoiceId: randomUUID() };
    const echoed = completion(echoWorker, echoJob.jobId(echoPayload));
    await echo.enqueue(echoPayload);
    await echoed;

    // The flaky job fails its first attempt, then completes.
    expect(await failedAttempts()).toBe(failedBefore + 1);
    expect(await series('job_results_total', { job: 'echo', status: 'echoed' })).toBe(echoedBefore + 1);
    // The gauge reads Redis when scraped: every completed job of the echo queue is counted.
    const completed = (await echo.queue.getJobCounts('completed')).completed!;
    expect(await series('queue_jobs', { queue: 'payments', state: 'completed' })).toBe(completed);
    const text = await registry.metrics();
    expect(text).toMatch(/^queue_jobs\{queue="invoice-pdf",state="failed"\} \d+$/m);
  });

  it("runs each job in a consumer span whose parent is the producer's span", async () => {
    const payload = { invoiceId: randomUUID() };
    const id = echoJob.jobId(payload);
    const done = completion(echoWorker, id);
    const tracer = trace.getTracer('queue-test');
    const producerSpan = await tracer.startActiveSpan('issue invoice', async (span) => {
      try {
        await echo.enqueue(payload);
        return span.spanContext();
      } finally {
        span.end();
      }
    });
    await done;

    const consumer = exporter
      .getFinishedSpans()
      .find(
        (span) => span.name === `${echoJob.queue} process` && span.attributes['messaging.message.id'] === id,
      );
    expect(consumer).toBeDefined();
    expect(consumer?.kind).toBe(SpanKind.CONSUMER);
    expect(consumer?.spanContext().traceId).toBe(producerSpan.traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producerSpan.spanId);
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': echoJob.queue,
      'bullmq.attempt': 1,
    });
  });
});
