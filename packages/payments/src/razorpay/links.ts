import { z } from 'zod';
import { callProvider, PROVIDER_TIMEOUT_MS, unreadableAnswer } from '../provider-http.js';
import type { CreatedLink, CreateLinkInput } from '../types.js';

/** Where and as whom Bursar calls Razorpay's REST API (HTTP Basic `key_id:key_secret`). */
export interface RazorpayClient {
  /** `https://api.razorpay.com`, or the sandbox's base (see `providerApiBases`). */
  baseUrl: string;
  keyId: string;
  keySecret: string;
  /** Default `PROVIDER_TIMEOUT_MS` (10 s). */
  timeoutMs?: number;
}

/** A Razorpay Payment Link request: the common input plus the `reference_id` Razorpay keeps unique per account. */
export interface RazorpayLinkInput extends CreateLinkInput {
  /**
   * Bursar's own id for the link (its `payment_links` row id). Razorpay refuses
   * a `reference_id` it has seen before, so an invoice number, which is only
   * unique within a school and is asked for again when the balance changes,
   * would not do. At most 40 characters.
   */
  referenceId: string;
}

/** The parts of Razorpay's Payment Link entity Bursar reads (the answer carries more). */
const RazorpayPaymentLink = z.object({
  id: z.string().min(1),
  short_url: z.url(),
  expire_by: z.number().int().positive().optional(),
});

/**
 * Creates a Razorpay Payment Link (`POST /v1/payment_links`) for an amount in
 * paise. Razorpay's own notifications stay off (`notify`, reminders): Bursar
 * sends the link on WhatsApp itself. `notes` carry the invoice, school and
 * invoice number, so the webhook finds its invoice without the link. Any
 * failure is a 503 `AppError` (see `callProvider`).
 */
export async function createRazorpayPaymentLink(
  client: RazorpayClient,
  input: RazorpayLinkInput,
): Promise<CreatedLink> {
  const url = `${client.baseUrl.replace(/\/$/, '')}/v1/payment_links`;
  const body = {
    amount: Number(input.amountMinor),
    currency: input.currency,
    description: input.description,
    expire_by: Math.floor(input.expiresAt.getTime() / 1000),
    reference_id: input.referenceId,
    notes: {
      invoiceId: input.notes.invoiceId,
      schoolId: input.notes.schoolId,
      invoiceNumber: input.notes.invoiceNumber,
    },
    ...(input.returnUrl ? { callback_url: input.returnUrl, callback_method: 'get' } : {}),
    notify: { sms: false, email: false },
    reminder_enable: false,
  };
  const answer = await callProvider(
    'razorpay',
    url,
    {
      headers: {
        authorization: `Basic ${Buffer.from(`${client.keyId}:${client.keySecret}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    },
    client.timeoutMs ?? PROVIDER_TIMEOUT_MS,
  );
  const parsed = RazorpayPaymentLink.safeParse(answer);
  if (!parsed.success)
    throw unreadableAnswer('razorpay', '/v1/payment_links', parsed.error.issues[0]!.message);
  return {
    providerReference: parsed.data.id,
    url: parsed.data.short_url,
    expiresAt: parsed.data.expire_by ? new Date(parsed.data.expire_by * 1000) : input.expiresAt,
  };
}
