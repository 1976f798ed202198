import { baseConfigSchema, loadConfig, portVariable } from '@bursar/platform';
import type { z } from 'zod';

export const configSchema = baseConfigSchema.extend({
  WEBHOOK_PORT: portVariable(3001),
});
export type Config = z.infer<typeof configSchema>;

export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadConfig(configSchema, env);
}
