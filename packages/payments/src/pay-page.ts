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
  return signPublic(secret, `pay-page:${invoiceId}`);
}

/** The invoice id a pay-page token (`<invoice>.<signature>`) stands for, or null when it is not genuine. */
export function readPayPageToken(secret: string, token: string): string | null {
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!match) return null;
  const [, invoiceId, signature] = match as unknown as [string, string, string];
  return sameSignature(signature, payPageSignature(secret, invoiceId)) ? invoiceId : null;
}

/**
 * A public address of a document's current version, for a WhatsApp document
 * header: the provider fetches the PDF from it when it sends. Signed like the
 * pay link, so it cannot be guessed from the id.
 */
export function documentUrl(
  publicUrl: string,
  secret: string,
  kind: 'invoice' | 'receipt',
  subjectId: string,
): string {
  const signature = signPublic(secret, `document:${kind}:${subjectId}`);
  return `${publicUrl.replace(/\/$/, '')}/api/documents/${kind}/${subjectId}.${signature}.pdf`;
}

/** The document a public document address names, or null when its signature is not genuine. */
export function readDocumentToken(
  secret: string,
  kind: string,
  token: string,
): { kind: 'invoice' | 'receipt'; subjectId: string } | null {
  if (kind !== 'invoice' && kind !== 'receipt') return null;
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{22})\.pdf$/.exec(token);
  if (!match) return null;
  const [, subjectId, signature] = match as unknown as [string, string, string];
  return sameSignature(signature, signPublic(secret, `document:${kind}:${subjectId}`))
    ? { kind, subjectId }
    : null;
}

function signPublic(secret: string, subject: string): string {
  return createHmac('sha256', secret).update(subject).digest('base64url').slice(0, 22);
}

function sameSignature(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
