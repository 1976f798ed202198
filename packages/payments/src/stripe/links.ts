import { z } from 'zod';
import { callProvider, PROVIDER_TIMEOUT_MS, unreadableAnswer } from '../provider-http.js';
import type { CreatedLink, CreateLinkInput } from '../types.js';

/** Where and as whom Bursar calls Stripe's REST API (`Authorization: Bearer sk_…`). */
export interface StripeClient {
  /** `https://api.stripe.com`, or the sandbox's base (see `providerApiBases`). */
  baseUrl: string;
  secretKey: string;
  /** Default `PROVIDER_TIMEOUT_MS` (10 s). */
  timeoutMs?: number;
}

/** Checkout Sessions expire between 30 minutes and 24 hours after they are created. */
export const STRIPE_CHECKOUT_MAX_SECONDS = 24 * 60 * 60;

/** The parts of Stripe's Checkout Session object Bursar reads (the answer carries more). */
const StripeCheckoutSession = z.object({
  id: z.string().min(1),
  url: z.url(),
  expires_at: z.number().int().positive().optional(),
});

/**
 * Stripe's form encoding: nested fields in bracket notation
 * (`line_items[0][price_data][currency]`). Brackets are left readable, as
 * Stripe's own libraries send them; every value is percent-encoded.
 */
function formEncode(fields: [string, string][]): string {
  return fields
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(value)}`,
    )
    .join('&');
}

/**
 * Creates a Stripe Checkout Session (`POST /v1/checkout/sessions`, mode
 * `payment`) for one line of the amount in minor units. The invoice, school
 * and invoice number go in the session's `metadata` and again in the
 * PaymentIntent's (`payment_intent_data[metadata]`), because
 * `payment_intent.succeeded` carries only the latter; `client_reference_id`
 * is the invoice id. Stripe wants the currency in lower case. Any failure is a
 * 503 `AppError` (see `callProvider`).
 */
export async function createStripeCheckoutSession(
  client: StripeClient,
  input: CreateLinkInput,
): Promise<CreatedLink> {
  const url = `${client.baseUrl.replace(/\/$/, '')}/v1/checkout/sessions`;
  const notes: [string, string][] = [
    ['invoiceId', input.notes.invoiceId],
    ['schoolId', input.notes.schoolId],
    ['invoiceNumber', input.notes.invoiceNumber],
  ];
  const fields: [string, string][] = [
    ['mode', 'payment'],
    ['line_items[0][price_data][currency]', input.currency.toLowerCase()],
    ['line_items[0][price_data][unit_amount]', input.amountMinor.toString()],
    ['line_items[0][price_data][product_data][name]', input.description],
    ['line_items[0][quantity]', '1'],
    ...notes.map(([key, value]): [string, string] => [`metadata[${key}]`, value]),
    ...notes.map(([key, value]): [string, string] => [`payment_intent_data[metadata][${key}]`, value]),
    ['client_reference_id', input.notes.invoiceId],
    ...(input.returnUrl
      ? ([
          ['success_url', input.returnUrl],
          ['cancel_url', input.returnUrl],
        ] as [string, string][])
      : []),
    ['expires_at', String(Math.floor(input.expiresAt.getTime() / 1000))],
  ];
  const answer = await callProvider(
    'stripe',
    url,
    {
      headers: {
        authorization: `Bearer ${client.secretKey}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: formEncode(fields),
    },
    client.timeoutMs ?? PROVIDER_TIMEOUT_MS,
  );
  const parsed = StripeCheckoutSession.safeParse(answer);
  if (!parsed.success)
    throw unreadableAnswer('stripe', '/v1/checkout/sessions', parsed.error.issues[0]!.message);
  return {
    providerReference: parsed.data.id,
    url: parsed.data.url,
    expiresAt: parsed.data.expires_at ? new Date(parsed.data.expires_at * 1000) : input.expiresAt,
  };
}
