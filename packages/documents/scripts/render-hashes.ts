/**
 * Renders the test fixtures in a fresh process and prints the sha256 of each
 * PDF as JSON: the determinism test compares them with the same documents
 * rendered in its own process, after that process has rendered others.
 *
 *   pnpm exec tsx packages/documents/scripts/render-hashes.ts
 */
import { createHash } from 'node:crypto';
import { fixtureDocuments } from '../src/testing.js';
import { renderInvoicePdf, renderReceiptPdf } from '../src/index.js';

const hashes: Record<string, string> = {};
for (const [name, doc] of Object.entries(fixtureDocuments())) {
  const { bytes } = 'receipt' in doc ? await renderReceiptPdf(doc) : await renderInvoicePdf(doc);
  hashes[name] = createHash('sha256').update(bytes).digest('hex');
}
process.stdout.write(`${JSON.stringify(hashes)}\n`);
