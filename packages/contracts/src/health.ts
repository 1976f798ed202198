import { z } from 'zod';

/** Body of `GET /healthz`: the process is alive and serving. */
export const HealthResponse = z.object({
  status: z.literal('ok'),
  service: z.string(),
  uptimeSeconds: z.number(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/** The outcome of one dependency probe inside a readiness answer. */
export const DependencyCheck = z.object({
  status: z.enum(['up', 'down']),
  latencyMs: z.number(),
  error: z.string().optional(),
});
export type DependencyCheck = z.infer<typeof DependencyCheck>;

/**
 * Body of `GET /readyz`: 200 with `status: "ready"` when every dependency answers,
 * 503 with `status: "unavailable"` and the failing dependencies listed in `failing`.
 */
export const ReadinessResponse = z.object({
  status: z.enum(['ready', 'unavailable']),
  service: z.string(),
  failing: z.array(z.string()),
  checks: z.record(z.string(), DependencyCheck),
});
export type ReadinessResponse = z.infer<typeof ReadinessResponse>;
