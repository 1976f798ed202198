import { baseConfigSchema, ConfigError, loadConfig, portVariable } from '@bursar/platform';
import { paymentsConfigSchema, productionPaymentProblems } from '@bursar/payments';
import type { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  WEBHOOK_PORT: portVariable(3001),
  ...paymentsConfigSchema.shape,
});
export type Config = z.infer<typeof configSchema>;

/**
 * The billing-webhook's config. In production it refuses the sandbox and every
 * development default secret (anyone could sign a webhook with those), naming
 * each variable, as any other bad variable is named.
 */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  const config = loadConfig(configSchema, env);
  if (config.NODE_ENV === 'production') {
    const problems = productionPaymentProblems(config, env);
    if (problems.length) throw new ConfigError(problems);
  }
  return config;
}
