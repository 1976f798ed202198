import { authConfigSchema, baseConfigSchema, ConfigError, loadConfig, portVariable } from '@bursar/platform';
import { productionWhatsAppProblems, whatsappConfigSchema } from '@bursar/whatsapp';
import { z } from 'zod';

export const configSchema = baseConfigSchema
  .extend(authConfigSchema.shape)
  .extend(whatsappConfigSchema.shape)
  .extend({
    NOTIFY_PORT: portVariable(3002),
    /**
     * Meta wants a sample file with every template that has a document header, as a handle
     * from its Resumable Upload API (`4::…`). Upload a sample PDF once and set the handle here;
     * without it, submitting a template with a document header is refused with a 409 saying so.
     */
    WHATSAPP_DOCUMENT_HEADER_HANDLE: z.string().min(1).optional(),
  });
export type Config = z.infer<typeof configSchema>;

/**
 * notify's configuration from `env`. In production it also refuses the
 * WhatsApp sandbox and every development credential (the webhook secrets
 * among them are public, so anyone could forge a delivery report), naming
 * each variable, as any other bad variable is named.
 */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): Config {
  const config = loadConfig(configSchema, env);
  if (config.NODE_ENV === 'production') {
    const problems = productionWhatsAppProblems(config);
    if (problems.length) throw new ConfigError(problems);
  }
  return config;
}
