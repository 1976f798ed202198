import { z } from 'zod';

/** Development defaults: the sandbox and `pnpm start` use them; production refuses to start with any of them. */
export const SANDBOX_CREDENTIALS = {
  RAZORPAY_KEY_ID: 'rzp_test_bursar_sandbox',
  RAZORPAY_KEY_SECRET: 'sandbox_razorpay_key_secret',
  RAZORPAY_WEBHOOK_SECRETS: 'sandbox_razorpay_webhook_secret',
  STRIPE_SECRET_KEY: 'sk_test_bursar_sandbox',
  STRIPE_WEBHOOK_SECRETS: 'whsec_bursar_sandbox',
} as const;

/** The development pay-link key (see `PAY_LINK_SECRET`); the api and the worker refuse it in production. */
export const SANDBOX_PAY_LINK_SECRET = 'sandbox_pay_link_secret';

const secretList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((secret) => secret.trim())
      .filter(Boolean),
  )
  .refine((secrets) => secrets.length > 0, 'needs at least one secret');

/**
 * Payment-provider settings, shared by the api (creates links) and
 * billing-webhook (verifies webhooks, serves the sandbox). `PAYMENTS_PROVIDER`
 * `sandbox` (the development default) points both providers' base URLs at the
 * sandbox billing-webhook serves behind Caddy; `live` uses the providers' own.
 * Webhook secrets are comma-separated so an old and a new one both verify
 * during a rotation.
 */
export const paymentsConfigSchema = z.object({
  PAYMENTS_PROVIDER: z.enum(['sandbox', 'live']).default('sandbox'),
  /** Bursar's address as payers and providers reach it (Caddy): return URLs, the sandbox's links and webhooks. */
  PUBLIC_URL: z.url().default('http://127.0.0.1:8080'),
  RAZORPAY_KEY_ID: z.string().min(1).default(SANDBOX_CREDENTIALS.RAZORPAY_KEY_ID),
  RAZORPAY_KEY_SECRET: z.string().min(1).default(SANDBOX_CREDENTIALS.RAZORPAY_KEY_SECRET),
  RAZORPAY_WEBHOOK_SECRETS: secretList.default([SANDBOX_CREDENTIALS.RAZORPAY_WEBHOOK_SECRETS]),
  /** Overrides the Razorpay API base URL (default: the sandbox's, or https://api.razorpay.com when live). */
  RAZORPAY_API_BASE: z.url().optional(),
  STRIPE_SECRET_KEY: z.string().min(1).default(SANDBOX_CREDENTIALS.STRIPE_SECRET_KEY),
  STRIPE_WEBHOOK_SECRETS: secretList.default([SANDBOX_CREDENTIALS.STRIPE_WEBHOOK_SECRETS]),
  /** Overrides the Stripe API base URL (default: the sandbox's, or https://api.stripe.com when live). */
  STRIPE_API_BASE: z.url().optional(),
  /** Signs the pay links printed on invoices (`/api/pay/i/<invoice>.<signature>`), so they cannot be guessed. */
  PAY_LINK_SECRET: z.string().min(16).default(SANDBOX_PAY_LINK_SECRET),
  /** Stripe signatures older than this are refused (replay protection), in seconds. */
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(300),
});
export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;

/** The base URLs Bursar calls each provider's REST API at. */
export function providerApiBases(config: PaymentsConfig): { razorpay: string; stripe: string } {
  const sandbox = `${config.PUBLIC_URL.replace(/\/$/, '')}/webhooks/sandbox`;
  return {
    razorpay:
      config.RAZORPAY_API_BASE ??
      (config.PAYMENTS_PROVIDER === 'live' ? 'https://api.razorpay.com' : `${sandbox}/razorpay`),
    stripe:
      config.STRIPE_API_BASE ??
      (config.PAYMENTS_PROVIDER === 'live' ? 'https://api.stripe.com' : `${sandbox}/stripe`),
  };
}

/**
 * Problems with the payment settings in production (each names its variable):
 * the sandbox, or any development default, would take or verify money with
 * secrets everyone knows.
 */
export function productionPaymentProblems(
  config: PaymentsConfig,
  env: Record<string, string | undefined>,
): { variable: string; message: string }[] {
  const problems: { variable: string; message: string }[] = [];
  if (config.PAYMENTS_PROVIDER !== 'live') {
    problems.push({ variable: 'PAYMENTS_PROVIDER', message: 'must be live in production' });
  }
  for (const variable of Object.keys(SANDBOX_CREDENTIALS) as (keyof typeof SANDBOX_CREDENTIALS)[]) {
    const value = env[variable]?.trim();
    if (!value || value.split(',').some((part) => part.trim() === SANDBOX_CREDENTIALS[variable])) {
      problems.push({ variable, message: 'required in production (the development default is public)' });
    }
  }
  return problems;
}

/** `PAY_LINK_SECRET` in production: the processes that print or read pay links (api, worker) need their own. */
export function productionPayLinkProblems(config: Pick<PaymentsConfig, 'PAY_LINK_SECRET'>): {
  variable: string;
  message: string;
}[] {
  return config.PAY_LINK_SECRET === SANDBOX_PAY_LINK_SECRET
    ? [{ variable: 'PAY_LINK_SECRET', message: 'required in production (the development default is public)' }]
    : [];
}
