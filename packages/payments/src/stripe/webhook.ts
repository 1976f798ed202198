import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { singleHeader, type WebhookVerification } from '../razorpay/webhook.js';

export interface StripeVerifyOptions {
  /** Signatures whose timestamp is further than this from now are refused (replay protection). */
  toleranceSeconds: number;
  /** The clock to judge the timestamp by; the current time unless a test says otherwise. */
  now?: Date;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

function hmac(secret: string, timestamp: string, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/** The timestamp and every `v1` signature of a `Stripe-Signature` header, or null when it cannot be read. */
function parseHeader(header: string): { timestamp: string; signatures: Buffer[] } | null {
  let timestamp: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) return null;
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return null;
      timestamp = value;
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) return null;
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, Stripe's test-mode scheme) are ignored, as Stripe's own libraries do.
  }
  if (timestamp === undefined || signatures.length === 0) return null;
  return { timestamp, signatures };
}

/** The event's id and type from a verified body, or null when the body does not carry them. */
function identityOf(rawBody: Buffer): { eventId: string; type: string } | null {
  try {
    const parsed = JSON.parse(rawBody.toString('utf8')) as { id?: unknown; type?: unknown } | null;
    if (parsed && typeof parsed.id === 'string' && parsed.id && parsed.id.length <= 200) {
      return { eventId: parsed.id, type: typeof parsed.type === 'string' ? parsed.type : 'unknown' };
    }
  } catch {
    // A signed body that is not JSON has no event id to deduplicate on.
  }
  return null;
}

/**
 * Verifies a Stripe webhook: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`,
 * each `v1` the HMAC-SHA256 of `${t}.${rawBody}`. Accepted when any `v1`
 * matches any of `secrets` (rotation; Stripe also sends one `v1` per active
 * secret during its own rolls) and `t` is within the tolerance of now, in
 * either direction. Compared in constant time; the identity is the body's
 * `id` and `type`.
 */
export function verifyStripeWebhook(
  rawBody: Buffer,
  headers: IncomingHttpHeaders,
  secrets: readonly string[],
  options: StripeVerifyOptions,
): WebhookVerification {
  const header = singleHeader(headers, 'stripe-signature')?.trim();
  if (!header) return { ok: false, reason: 'missing_header' };
  const parsed = parseHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed_header' };
  let matched = false;
  for (const secret of secrets) {
    const expected = hmac(secret, parsed.timestamp, rawBody);
    for (const signature of parsed.signatures) {
      if (timingSafeEqual(signature, expected)) matched = true;
    }
  }
  if (!matched) return { ok: false, reason: 'mismatch' };
  // Checked after the signature, so an attacker cannot learn the tolerance from unsigned guesses;
  // a genuine old delivery (a replay) is refused all the same.
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - Number(parsed.timestamp)) > options.toleranceSeconds) {
    return { ok: false, reason: 'stale_timestamp' };
  }
  const identity = identityOf(rawBody);
  if (!identity) return { ok: false, reason: 'malformed_header' };
  return { ok: true, identity };
}

/** The `Stripe-Signature` header value Stripe would send for `rawBody` at `timestampSeconds`. */
export function signStripeWebhook(
  rawBody: Buffer | string,
  secret: string,
  timestampSeconds: number,
): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  return `t=${timestampSeconds},v1=${hmac(secret, String(timestampSeconds), body).toString('hex')}`;
}
