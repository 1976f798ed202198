import { z } from 'zod';

/** Raised when the environment does not satisfy a service's config schema; lists every bad variable. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(
      `invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}\n` +
        'Fix the variables above (see the configuration table in README.md).',
    );
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(0).max(65535);

/** Variables every process reads. Defaults suit a developer machine; see README for each. */
export const baseConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/bursar'),
  /**
   * Connections in the process's pool. A job or request waiting for one is
   * only slower, but the worker runs up to WHATSAPP_SEND_CONCURRENCY sends at
   * once: size it to what runs at once.
   */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix; braces make it a Redis Cluster hash tag so a queue's keys share a slot. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^\{[a-z0-9_-]+\}$/, 'must be a hash tag such as {bursar}')
    .default('{bursar}'),
  /** Largest JSON body accepted, in bytes. */
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** Time allowed for in-flight requests and jobs to finish after SIGTERM, in ms. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().max(60_000).default(10_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** Address the HTTP server binds: loopback unless told otherwise (compose sets 0.0.0.0 inside its network). */
  HOST: z.string().default('127.0.0.1'),
  /**
   * Which direct peers may set `X-Forwarded-For` (express `trust proxy`: addresses, subnets or
   * `loopback`). Only the proxy actually in front belongs here, or a caller could choose the
   * client address the login limiter counts.
   */
  TRUST_PROXY: z.string().default('loopback'),
  /**
   * Bearer token that opens `/metrics`. Without it `/metrics` answers only callers that did not
   * come through a proxy (no `X-Forwarded-For`, direct peer not behind Caddy).
   */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** How often a process's outbox sweeper hands Redis what the relay could not (Redis down or restarted empty), in ms. */
  OUTBOX_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  /** `pretty` for people (the development default on a terminal or under `pnpm start`), `json` for machines. */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
});
export type BaseConfig = z.infer<typeof baseConfigSchema>;

/** A port variable with a default, for a service's own schema. */
export function portVariable(defaultPort: number) {
  return port.default(defaultPort);
}

/**
 * Parses `env` with `schema`. The only place in a process that reads
 * `process.env` is the service's `config.ts`, which calls this.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  // Empty strings count as unset, as they do in most deployment tools.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
    );
  }
  return result.data;
}

/**
 * What a service other than the api needs to check Bursar's access tokens:
 * where the api publishes its signing keys.
 */
export const authConfigSchema = z.object({
  AUTH_JWKS_URL: z.url().default('http://127.0.0.1:3000/api/.well-known/jwks.json'),
});
