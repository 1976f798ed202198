import { authConfigSchema, baseConfigSchema, loadConfig, portVariable } from '@bursar/platform';
import type { z } from 'zod';

export const configSchema = baseConfigSchema.extend(authConfigSchema.shape).extend({
  AI_PORT: portVariable(3003),
});
export type Config = z.infer<typeof configSchema>;

export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadConfig(configSchema, env);
}
