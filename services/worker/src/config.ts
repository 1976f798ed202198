import { QueueName } from '@bursar/contracts';
import { baseConfigSchema, ConfigError, loadConfig, portVariable } from '@bursar/platform';
import { paymentsConfigSchema, productionPayLinkProblems } from '@bursar/payments';
import { storageConfigProblems, storageConfigSchema } from '@bursar/storage';
import { productionWhatsAppProblems, whatsappConfigSchema } from '@bursar/whatsapp';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  /** Private port for /healthz, /readyz and /metrics; never routed by Caddy. */
  WORKER_PORT: portVariable(3004),
  WORKER_HOST: z.string().default('127.0.0.1'),
  /**
   * Comma-separated subset of queues this replica runs; unset runs every queue
   * that has a job in the catalog. Naming a queue with no job is a start-up error.
   */
  WORKER_QUEUES: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (!value) return undefined;
      const names = value.split(',').map((name) => name.trim());
      const unknown = names.filter((name) => !QueueName.safeParse(name).success);
      if (unknown.length) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown queue(s) ${unknown.join(', ')}; known: ${QueueName.options.join(', ')}`,
        });
        return z.NEVER;
      }
      return [...new Set(names)] as QueueName[];
    }),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** As many connections as jobs run at once: 32 sends plus 4 per other queue. */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(48),
  ...storageConfigSchema.shape,
  ...whatsappConfigSchema.shape,
  /** Sends in flight at once per worker (they wait on the provider, not the CPU); the rate limit paces them. */
  WHATSAPP_SEND_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(32),
  /**
   * How long a message whose send was cut off (the worker died in the call)
   * waits for the provider's status webhook before it is sent again.
   */
  WHATSAPP_RECONCILE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(10 * 60_000),
  /** For the pay links printed on invoices: Bursar's public address and the key that signs them. */
  ...paymentsConfigSchema.pick({ PUBLIC_URL: true, PAY_LINK_SECRET: true }).shape,
});
export type Config = z.infer<typeof configSchema>;

/** Reads the worker's configuration from the environment (the only place that reads `process.env`). */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  const config = loadConfig(configSchema, env);
  const problems = storageConfigProblems(config);
  // Anyone could sign a pay link with the public default.
  if (config.NODE_ENV === 'production') problems.push(...productionPayLinkProblems(config));
  if (config.NODE_ENV === 'production') problems.push(...productionWhatsAppProblems(config));
  if (problems.length) throw new ConfigError(problems);
  return config;
}
