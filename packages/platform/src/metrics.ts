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

export const jobDuration = new client.Histogram({
  name: 'job_duration_seconds',
  help: 'BullMQ job processing time by queue and outcome',
  labelNames: ['queue', 'outcome'],
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
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

/** Records request duration labelled by the matched route pattern (not the raw path, to bound cardinality). */
export function observeHttp(service: string): RequestHandler {
  return (req, res, next) => {
    const end = httpDuration.startTimer({ service, method: req.method });
    res.once('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };
}

export const metricsHandler: RequestHandler = async (_req, res) => {
  res.type(registry.contentType).send(await registry.metrics());
};
