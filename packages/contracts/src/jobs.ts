import { z } from 'zod';

/**
 * A job kind: which queue it runs on, its payload schema and version, how it
 * retries, and how its deterministic `jobId` is derived from the payload (so
 * enqueuing the same work twice is a no-op). Payloads carry ids, never
 * secrets or whole rows: processors re-read state.
 */
export interface JobDefinition<Q extends string = string, S extends z.ZodType = z.ZodType> {
  queue: Q;
  /** Bumped when the payload shape changes incompatibly; old versions are rejected as unrecoverable. */
  version: number;
  payload: S;
  attempts: number;
  backoff: { type: 'exponential' | 'fixed'; delay: number };
  /** Deterministic id; BullMQ forbids `:` in custom ids, so parts are joined with `.`. */
  jobId: (payload: z.infer<S>) => string;
}

export function defineJob<Q extends string, S extends z.ZodType>(
  definition: JobDefinition<Q, S>,
): JobDefinition<Q, S> {
  return definition;
}

/** What a job's `data` holds in Redis: the versioned payload plus W3C trace context. */
export const JobEnvelope = z.object({
  v: z.number().int(),
  payload: z.unknown(),
  trace: z.record(z.string(), z.string()).default({}),
});
export type JobEnvelope = z.infer<typeof JobEnvelope>;

/** Every BullMQ queue in Bursar. The worker runs all of them unless `WORKER_QUEUES` names a subset. */
export const QueueName = z.enum([
  'payments',
  'invoice-pdf',
  'kpi-report',
  'whatsapp-campaign',
  'whatsapp-send',
  'ai-drafts',
]);
export type QueueName = z.infer<typeof QueueName>;
