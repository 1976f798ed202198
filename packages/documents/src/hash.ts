import { createHash } from 'node:crypto';
import type { InvoiceDocument, ReceiptDocument } from './model.js';

/**
 * The layout's version, part of every {@link documentHash}. Bump it whenever
 * a change here (layout, wording, fonts, a pdfkit upgrade) changes the bytes
 * a model renders to, so stored documents are rendered again.
 */
export const RENDERER_VERSION = 1;

/**
 * A value as canonical JSON: object keys sorted, bigints as decimal strings,
 * bytes (the logo) as their sha256, undefined members left out. Two models
 * that render the same serialise the same whatever order their keys were
 * built in.
 */
function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  if (value instanceof Uint8Array) {
    return JSON.stringify(`sha256:${createHash('sha256').update(value).digest('hex')}`);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonical(member)}`).join(',')}}`;
  }
  throw new TypeError(`cannot hash a ${typeof value}`);
}

/**
 * sha256 (hex) of what a document shows and of the renderer that draws it:
 * equal hashes mean a re-render would give the same bytes, so a caller can
 * keep the PDF it stored. Invoices and receipts never collide (the kind is
 * part of the hash).
 */
export function documentHash(doc: InvoiceDocument | ReceiptDocument): string {
  const kind = 'receipt' in doc ? 'receipt' : 'invoice';
  return createHash('sha256')
    .update(`bursar-documents/${RENDERER_VERSION}/${kind}\n`)
    .update(canonical(doc))
    .digest('hex');
}
