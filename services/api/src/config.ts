import { baseConfigSchema, loadConfig, portVariable } from '@bursar/platform';
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
});
export type Config = z.infer<typeof configSchema>;

export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadConfig(configSchema, env);
}

/** Variables the demo seed reads (`pnpm db:seed`, run by `pnpm start`). */
export const seedConfigSchema = baseConfigSchema.extend({
  BURSAR_ADMIN_EMAIL: z.email().default('admin@bursar.local'),
  BURSAR_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').default('change_me'),
  BURSAR_DEMO_PASSWORD: z.string().min(8, 'must be at least 8 characters').default('demo_pass'),
});
