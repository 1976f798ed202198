import { paymentsConfigSchema, productionPayLinkProblems, productionPaymentProblems } from '@bursar/payments';
import { baseConfigSchema, ConfigError, loadConfig, portVariable } from '@bursar/platform';
import { storageConfigProblems, storageConfigSchema } from '@bursar/storage';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  API_PORT: portVariable(3000),
  /** Ed25519 private key (PKCS#8 PEM; `\\n` escapes allowed) that signs access tokens. Required in production. */
  JWT_PRIVATE_KEY: z.string().optional(),
  /** Where a development key is kept when JWT_PRIVATE_KEY is unset. */
  JWT_KEY_FILE: z
    .string()
    .default(fileURLToPath(new URL('../../../.data/jwt/signing-key.pem', import.meta.url))),
  // The api creates pay links through the providers' REST APIs (see @bursar/payments).
  ...paymentsConfigSchema.shape,
  // Invoice and receipt PDFs and school logos (see @bursar/storage).
  ...storageConfigSchema.shape,
});
export type Config = z.infer<typeof configSchema>;

/**
 * The api's configuration from `env`. In production it also refuses the
 * payments sandbox and every development payment credential (their values are
 * public), naming each variable, so the process exits 1 instead of taking
 * money through keys everyone knows.
 */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  const config = loadConfig(configSchema, env);
  const problems = [
    ...storageConfigProblems(config),
    ...(config.NODE_ENV === 'production'
      ? [...productionPaymentProblems(config, env), ...productionPayLinkProblems(config)]
      : []),
  ];
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** Variables the demo seed reads (`pnpm db:seed`, run by `pnpm start`). */
export const seedConfigSchema = baseConfigSchema.extend({
  BURSAR_ADMIN_EMAIL: z.email().default('admin@bursar.local'),
  BURSAR_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').default('change_me'),
  BURSAR_DEMO_PASSWORD: z.string().min(8, 'must be at least 8 characters').default('demo_pass'),
});
