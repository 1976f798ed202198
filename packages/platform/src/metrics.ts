import type { RequestHandler } from 'express';
import client from 'prom-client';

/** One registry per process; default Node metrics plus the HTTP and job histograms below. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const httpDuration = new client.Histogram({
  name: 'http_server_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['service', 'method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** Each attempt of a job, by queue, job name (from the catalog, so bounded) and outcome: completed, delayed or failed. */
export const jobDuration = new client.Histogram({
  name: 'job_duration_seconds',
  help: 'BullMQ job processing time by queue, job name and outcome',
  labelNames: ['queue', 'job', 'outcome'],
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
  registers: [registry],
});

/** KPI report computation time by kind and outcome (succeeded, retried, failed). */
export const reportDuration = new client.Histogram({
  name: 'report_duration_seconds',
  help: 'Time to compute a KPI report, by kind and outcome',
  labelNames: ['kind', 'outcome'],
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60],
  registers: [registry],
});

/** Outbox rows committed but not yet handed to Redis (all replicas report the same table). */
export const outboxBacklog = new client.Gauge({
  name: 'outbox_backlog',
  help: 'Outbox rows not yet relayed to Redis',
  registers: [registry],
});

/** Age of the oldest row not yet relayed: grows while Redis is away, 0 when the backlog is empty. */
export const outboxOldestAgeSeconds = new client.Gauge({
  name: 'outbox_oldest_age_seconds',
  help: 'Age of the oldest outbox row not yet relayed, in seconds',
  registers: [registry],
});

/** Rows this process handed to Redis: `new` the first time, `lost` again after Redis lost them. */
export const outboxRelayed = new client.Counter({
  name: 'outbox_relayed_total',
  help: 'Outbox rows relayed to Redis by reason',
  labelNames: ['reason'],
  registers: [registry],
});

/**
 * What completed jobs came to, by the `status` their processor returned (a
 * value from the code, so bounded): payments applied are
 * `{job="payment-event.apply", status="applied"}`, WhatsApp messages sent
 * `{job="whatsapp.send", status="sent"}`, and so on for every job kind.
 */
export const jobResults = new client.Counter({
  name: 'job_results_total',
  help: 'Completed jobs by queue, job name and the status their processor returned',
  labelNames: ['queue', 'job', 'status'],
  registers: [registry],
});

/** What {@link watchQueueCounts} reads: a BullMQ `Queue` has it. */
export interface CountedQueue {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;
/** How long a scrape waits for Redis before it reports the counts it read last. */
const QUEUE_COUNT_TIMEOUT_MS = 1_000;
const watchedQueues = new Map<string, CountedQueue>();

/**
 * Jobs per queue and state, read from Redis when Prometheus scrapes. A scrape
 * never waits on a Redis that is down for more than a second: the gauge then
 * keeps the counts it read last.
 */
export const queueJobs = new client.Gauge({
  name: 'queue_jobs',
  help: 'BullMQ jobs per queue and state (waiting, prioritized, active, delayed, failed, completed)',
  labelNames: ['queue', 'state'],
  registers: [registry],
  async collect() {
    await Promise.all(
      [...watchedQueues.values()].map(async (queue) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), QUEUE_COUNT_TIMEOUT_MS);
        });
        const counts = await Promise.race([
          queue.getJobCounts(...QUEUE_STATES).catch(() => undefined),
          timeout,
        ]);
        clearTimeout(timer);
        if (!counts) return;
        for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }),
    );
  },
});

/** Reports these queues' job counts on `/metrics` (see {@link queueJobs}); a worker watches the queues it runs. */
export function watchQueueCounts(queues: readonly CountedQueue[]): void {
  for (const queue of queues) watchedQueues.set(queue.name, queue);
}

/** The histogram's child per label set: prom-client hashes a label object on every observation. */
const httpChildren = new Map<string, client.Histogram.Internal<'service' | 'method' | 'route' | 'status'>>();

/** Records one request's duration, labelled by the matched route pattern (not the raw path, to bound cardinality). */
export function recordHttp(
  service: string,
  method: string,
  route: string,
  status: number,
  seconds: number,
): void {
  const key = `${service} ${method} ${route} ${status}`;
  let child = httpChildren.get(key);
  if (!child) {
    child = httpDuration.labels({ service, method, route, status: String(status) });
    httpChildren.set(key, child);
  }
  child.observe(seconds);
}

export const metricsHandler: RequestHandler = async (_req, res) => {
  res.type(registry.contentType).send(await registry.metrics());
};
