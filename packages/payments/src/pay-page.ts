import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The pay link printed on an invoice (text and QR code): Bursar's own address,
 * stable for the invoice's life, that opens a provider checkout for whatever
 * the invoice still asks for when the guardian scans it. A provider link
 * would fix the amount and expire; this one never goes stale, so the printed
 * invoice does not change when a part is paid. The signature makes the
 * address unguessable from the invoice id.
 */
export function payPageUrl(publicUrl: string, secret: string, invoiceId: string): string {
  return `${publicUrl.replace(/\/$/, '')}/api/pay/i/${invoiceId}.${payPageSignature(secret, invoiceId)}`;
}

function payPageSignature(secret: string, invoiceId: string): string {
  return createHmac('sha256', secret).update(`pay-page:${invoiceId}`).digest('base64url').slice(0, 22);
}

/** The invoice id a pay-page token (`<invoice>.<signature>`) stands for, or null when it is not genuine. */
export function readPayPageToken(secret: string, token: string): string | null {
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!match) return null;
  const [, invoiceId, signature] = match as unknown as [string, string, string];
  const expected = Buffer.from(payPageSignature(secret, invoiceId));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected) ? invoiceId : null;
}
