import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { EventIdentity, SignatureFailure } from '../types.js';

/** What verifying a webhook says: who the event is, or why it was refused. */
export type WebhookVerification =
  { ok: true; identity: EventIdentity } | { ok: false; reason: SignatureFailure };

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The one value of a header, or undefined when it is absent or sent more than once differently. */
export function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

/** Hex HMAC-SHA256 of `payload` with `secret`. */
function hmacHex(secret: string, payload: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/**
 * Reads `event` from a verified body. A body that is not a JSON object with a
 * string `event` is still a genuine delivery; it is identified as type
 * `unknown` so it is stored (as ignored) rather than refused.
 */
function eventType(rawBody: Buffer): string {
  try {
    const parsed = JSON.parse(rawBody.toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && 'event' in parsed && typeof parsed.event === 'string')
      return parsed.event;
  } catch {
    // Signed by the provider but not JSON: stored as it came, acted on by nobody.
  }
  return 'unknown';
}

/**
 * Verifies a Razorpay webhook: `X-Razorpay-Signature` is the hex HMAC-SHA256
 * of the raw body bytes with the webhook secret. Any of `secrets` may match,
 * so an old and a new secret both verify during a rotation. Compared in
 * constant time; the identity is `X-Razorpay-Event-Id` plus the body's `event`.
 */
export function verifyRazorpayWebhook(
  rawBody: Buffer,
  headers: IncomingHttpHeaders,
  secrets: readonly string[],
): WebhookVerification {
  const signature = singleHeader(headers, 'x-razorpay-signature')?.trim();
  if (!signature) return { ok: false, reason: 'missing_header' };
  if (!HEX_SHA256.test(signature)) return { ok: false, reason: 'malformed_header' };
  const eventId = singleHeader(headers, 'x-razorpay-event-id')?.trim();
  const given = Buffer.from(signature, 'hex');
  // Every secret is tried, matched or not, so the time taken does not say which one matched.
  let matched = false;
  for (const secret of secrets) {
    if (timingSafeEqual(given, hmacHex(secret, rawBody))) matched = true;
  }
  if (!matched) return { ok: false, reason: 'mismatch' };
  // Signed but without the id Bursar deduplicates on: nothing can be stored safely.
  if (!eventId || eventId.length > 200) return { ok: false, reason: 'missing_header' };
  return { ok: true, identity: { eventId, type: eventType(rawBody) } };
}

/** The `X-Razorpay-Signature` value Razorpay would send for `rawBody` (the sandbox and tests sign with it). */
export function signRazorpayWebhook(rawBody: Buffer | string, secret: string): string {
  return hmacHex(secret, rawBody).toString('hex');
}
