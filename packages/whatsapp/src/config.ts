import { PROVIDER_TIMEOUT_MS } from './provider-http.js';
import { z } from 'zod';

/**
 * Development defaults: the sandbox (`startWhatsAppSandbox`) and `pnpm start`
 * use them, so a laptop sends and verifies webhooks with no setup; production
 * refuses every one of them (see `productionWhatsAppProblems`).
 */
export const WHATSAPP_SANDBOX_CREDENTIALS = {
  WHATSAPP_PHONE_NUMBER_ID: '100000000000001',
  WHATSAPP_BUSINESS_ACCOUNT_ID: '100000000000002',
  WHATSAPP_ACCESS_TOKEN: 'EAAsandbox_bursar_whatsapp_access_token',
  WHATSAPP_APP_SECRETS: 'sandbox_whatsapp_app_secret',
  WHATSAPP_VERIFY_TOKEN: 'sandbox_whatsapp_verify_token',
  GUPSHUP_API_KEY: 'sandbox_gupshup_api_key',
  GUPSHUP_APP_NAME: 'BursarSandbox',
  GUPSHUP_SOURCE_NUMBER: '+15550100001',
  GUPSHUP_CALLBACK_TOKEN: 'sandbox_gupshup_callback_token',
} as const;

/** Where `pnpm start` runs the WhatsApp sandbox, and where sandbox mode sends unless `WHATSAPP_API_BASE` says otherwise. */
export const WHATSAPP_SANDBOX_URL = 'http://127.0.0.1:3090';

/** The providers' own API bases. */
export const WHATSAPP_API_BASES = {
  meta: 'https://graph.facebook.com',
  gupshup: 'https://api.gupshup.io',
} as const;

const secretList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((secret) => secret.trim())
      .filter(Boolean),
  )
  .refine((secrets) => secrets.length > 0, 'needs at least one secret');

const phone = z.string().regex(/^\+?[1-9]\d{6,14}$/, 'must be a phone number in E.164 (digits, optional +)');

/**
 * WhatsApp provider settings, for notify (webhooks, templates) and the worker
 * (sends). `WHATSAPP_PROVIDER` `sandbox` (the development default) speaks to
 * the local sandbox in the API shape `WHATSAPP_SANDBOX_API` names (Meta's
 * unless told); `meta` and `gupshup` speak to the real providers. Secrets
 * that verify webhooks are comma-separated so an old and a new one both
 * verify during a rotation.
 */
export const whatsappConfigSchema = z.object({
  WHATSAPP_PROVIDER: z.enum(['sandbox', 'meta', 'gupshup']).default('sandbox'),
  /** Which API the sandbox is spoken to in, in sandbox mode. */
  WHATSAPP_SANDBOX_API: z.enum(['meta', 'gupshup']).default('meta'),
  /** Overrides the API base URL (default: the sandbox's in sandbox mode, else the provider's own). */
  WHATSAPP_API_BASE: z.url().optional(),
  /** Meta's Graph API version, as it appears in the path. */
  WHATSAPP_GRAPH_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, 'must look like v21.0')
    .default('v21.0'),
  /** Meta: the business phone number's id (messages are sent from it). */
  WHATSAPP_PHONE_NUMBER_ID: z
    .string()
    .regex(/^\d+$/, 'must be digits')
    .default(WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_PHONE_NUMBER_ID),
  /** Meta: the WhatsApp Business Account id (templates are submitted to it). */
  WHATSAPP_BUSINESS_ACCOUNT_ID: z
    .string()
    .regex(/^\d+$/, 'must be digits')
    .default(WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_BUSINESS_ACCOUNT_ID),
  /** Meta: a system user's access token. */
  WHATSAPP_ACCESS_TOKEN: z.string().min(1).default(WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_ACCESS_TOKEN),
  /** Meta: the app secret(s) that sign webhooks (`X-Hub-Signature-256`), comma-separated; the first is current. */
  WHATSAPP_APP_SECRETS: secretList.default([WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_APP_SECRETS]),
  /** Meta: the token Meta's subscription handshake must present. */
  WHATSAPP_VERIFY_TOKEN: z.string().min(1).default(WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_VERIFY_TOKEN),
  GUPSHUP_API_KEY: z.string().min(1).default(WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_API_KEY),
  GUPSHUP_APP_NAME: z.string().min(1).default(WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_APP_NAME),
  GUPSHUP_SOURCE_NUMBER: phone.default(WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_SOURCE_NUMBER),
  /** Gupshup does not sign callbacks: the callback URL registered with it carries this token. */
  GUPSHUP_CALLBACK_TOKEN: z.string().min(1).default(WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_CALLBACK_TOKEN),
  /** Messages per second the send queue allows itself (Meta's default throughput is 80). */
  WHATSAPP_MPS: z.coerce.number().int().min(1).max(1_000).default(80),
  /** How long a call to the provider may take; a send with no answer by then waits for its status webhook. */
  WHATSAPP_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(PROVIDER_TIMEOUT_MS),
});
export type WhatsAppConfig = z.infer<typeof whatsappConfigSchema>;

/** The API shape Bursar speaks: the provider's own, or the one the sandbox is spoken to in. */
export function whatsAppApi(config: WhatsAppConfig): 'meta' | 'gupshup' {
  return config.WHATSAPP_PROVIDER === 'sandbox' ? config.WHATSAPP_SANDBOX_API : config.WHATSAPP_PROVIDER;
}

/** The base URL Bursar calls the WhatsApp API at. */
export function whatsAppApiBase(config: WhatsAppConfig): string {
  if (config.WHATSAPP_API_BASE) return config.WHATSAPP_API_BASE;
  return config.WHATSAPP_PROVIDER === 'sandbox'
    ? WHATSAPP_SANDBOX_URL
    : WHATSAPP_API_BASES[config.WHATSAPP_PROVIDER];
}

const META_VARIABLES = [
  'WHATSAPP_PHONE_NUMBER_ID',
  'WHATSAPP_BUSINESS_ACCOUNT_ID',
  'WHATSAPP_ACCESS_TOKEN',
  'WHATSAPP_APP_SECRETS',
  'WHATSAPP_VERIFY_TOKEN',
] as const;
const GUPSHUP_VARIABLES = [
  'GUPSHUP_API_KEY',
  'GUPSHUP_APP_NAME',
  'GUPSHUP_SOURCE_NUMBER',
  'GUPSHUP_CALLBACK_TOKEN',
] as const;

/**
 * Problems with the WhatsApp settings in production, each naming its
 * variable: the sandbox provider, any variable of the chosen provider left
 * unset (so at its sandbox default) or set to a sandbox value (a secret
 * everyone knows, or an id that names no real number), and an API base that
 * is not HTTPS (the token would travel in clear, or to a sandbox). With the
 * sandbox chosen, both providers' variables are listed: whichever is meant
 * needs them all.
 */
export function productionWhatsAppProblems(config: WhatsAppConfig): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  if (config.WHATSAPP_PROVIDER === 'sandbox')
    problems.push({ variable: 'WHATSAPP_PROVIDER', message: 'must be meta or gupshup in production' });
  const variables =
    config.WHATSAPP_PROVIDER === 'meta'
      ? META_VARIABLES
      : config.WHATSAPP_PROVIDER === 'gupshup'
        ? GUPSHUP_VARIABLES
        : [...META_VARIABLES, ...GUPSHUP_VARIABLES];
  for (const variable of variables) {
    const value = config[variable];
    const sandbox = WHATSAPP_SANDBOX_CREDENTIALS[variable];
    const isSandbox = Array.isArray(value) ? value.includes(sandbox) : value === sandbox;
    if (isSandbox)
      problems.push({ variable, message: 'required in production (the development default is public)' });
  }
  if (config.WHATSAPP_API_BASE && new URL(config.WHATSAPP_API_BASE).protocol !== 'https:')
    problems.push({ variable: 'WHATSAPP_API_BASE', message: 'must be an https:// URL in production' });
  return problems;
}
