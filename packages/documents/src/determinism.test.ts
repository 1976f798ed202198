import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { documentHash, renderInvoicePdf, renderReceiptPdf, RENDERER_VERSION } from './index.js';
import type { InvoiceDocument, ReceiptDocument } from './model.js';
import {
  fixtureDocuments,
  invoiceDocument,
  invoiceLine,
  makeLogoPng,
  pdfFonts,
  pdfInfo,
  pdfText,
  receiptDocument,
  schoolHeader,
} from './testing.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const hashScript = fileURLToPath(new URL('../scripts/render-hashes.ts', import.meta.url));

function render(doc: InvoiceDocument | ReceiptDocument) {
  return 'receipt' in doc ? renderReceiptPdf(doc) : renderInvoicePdf(doc);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Documents whose text overlaps the fixtures' in other contexts, to leave the process's caches warm and mixed. */
async function renderOthers(): Promise<void> {
  // U+FB01 and U+FB02 are the glyphs the fi and fl ligatures of Noto Sans make: a font whose
  // glyph cache outlived a document would carry these code points into the next one's text layer.
  const scripts = [
    'कुमार प्रिया',
    'क़ानून क्षमा त्रिपाठी धर्म',
    'Zoë Łukasz José Ærø',
    '1.250,00 € ₹ $',
    '\ufb01eld \ufb02at',
  ];
  for (const [index, words] of scripts.entries()) {
    await renderInvoicePdf(
      invoiceDocument({
        student: { fullName: `${words} ${index}`, admissionNo: `X-${index}`, className: null },
        invoice: {
          ...invoiceDocument().invoice,
          lines: [invoiceLine(`${words} — ${words}`, 999n)],
          notes: words,
        },
      }),
    );
    await renderReceiptPdf(receiptDocument({ payer: { name: words } }));
  }
}

describe('the same model renders the same bytes', () => {
  it('twice in a row, with a fixed creation date, the same /ID and the same font subset tags', async () => {
    const model = invoiceDocument();
    const first = await renderInvoicePdf(model);
    const second = await renderInvoicePdf(model);
    expect(second.bytes.equals(first.bytes)).toBe(true);

    const info = pdfInfo(first.bytes);
    expect(info.CreationDate).toMatch(/Wed Apr +1 00:00:00 2026 UTC/);
    expect(info.ModDate).toBeUndefined();
    const id = (bytes: Buffer) => /\/ID \[<([0-9a-f]{32})>/.exec(bytes.toString('latin1'))?.[1];
    expect(id(first.bytes)).toBeDefined();
    expect(id(second.bytes)).toBe(id(first.bytes));
    expect(pdfFonts(second.bytes).map((font) => font.name)).toEqual(
      pdfFonts(first.bytes).map((font) => font.name),
    );

    const other = await renderInvoicePdf(
      invoiceDocument({ invoice: { ...model.invoice, number: 'INV-2026-000043' } }),
    );
    expect(id(other.bytes)).not.toBe(id(first.bytes));
  });

  it('in a fresh process as in this one after it has rendered other documents', async () => {
    await renderOthers();
    const here: Record<string, string> = {};
    for (const [name, doc] of Object.entries(fixtureDocuments()))
      here[name] = sha256((await render(doc)).bytes);

    const out = execFileSync(process.execPath, ['--import', 'tsx', hashScript], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    const there = JSON.parse(out) as Record<string, string>;
    expect(Object.keys(there).sort()).toEqual(Object.keys(here).sort());
    expect(there).toEqual(here);
  }, 60_000);

  it('keeps each document’s own text where one glyph stands for different text (the fi ligature and U+FB01)', async () => {
    const withLigatureCharacter = invoiceDocument({
      invoice: { ...invoiceDocument().invoice, lines: [invoiceLine('\ufb01nal \ufb02at fee', 100n)] },
    });
    const withLetters = invoiceDocument({
      invoice: {
        ...invoiceDocument().invoice,
        lines: [invoiceLine('Scientific field trip, flat fee', 100n)],
      },
    });
    const fresh = await renderInvoicePdf(withLetters);
    await renderInvoicePdf(withLigatureCharacter);
    const after = await renderInvoicePdf(withLetters);
    expect(pdfText(after.bytes)).toContain('Scientific field trip, flat fee');
    expect(after.bytes.equals(fresh.bytes)).toBe(true);
    expect(pdfText((await renderInvoicePdf(withLigatureCharacter)).bytes)).toContain(
      '\ufb01nal \ufb02at fee',
    );
  });

  it('with many renders in flight at once', async () => {
    const docs = Object.values(fixtureDocuments());
    const alone = await Promise.all(docs.map(async (doc) => sha256((await render(doc)).bytes)));
    const together = await Promise.all(
      Array.from({ length: 24 }, (_, index) =>
        render(docs[index % docs.length]!).then((result) => sha256(result.bytes)),
      ),
    );
    together.forEach((hash, index) => expect(hash, `render ${index}`).toBe(alone[index % docs.length]));
  });

  it('and a receipt from the time the money came in, not the clock', async () => {
    const first = await renderReceiptPdf(receiptDocument());
    expect(pdfInfo(first.bytes).CreationDate).toMatch(/Fri Apr +3 18:45:00 2026 UTC/);
    expect((await renderReceiptPdf(receiptDocument())).bytes.equals(first.bytes)).toBe(true);
  });
});

describe('a changed model', () => {
  it('renders different bytes and hashes differently', async () => {
    const model = invoiceDocument();
    const changed = invoiceDocument({
      invoice: { ...model.invoice, balanceMinor: model.invoice.balanceMinor - 1n },
    });
    const [a, b] = await Promise.all([renderInvoicePdf(model), renderInvoicePdf(changed)]);
    expect(a.bytes.equals(b.bytes)).toBe(false);
    expect(documentHash(changed)).not.toBe(documentHash(model));

    const receipt = receiptDocument();
    const refunded = receiptDocument({ receipt: { ...receipt.receipt, refundedMinor: 100n } });
    expect(documentHash(refunded)).not.toBe(documentHash(receipt));
    expect((await renderReceiptPdf(refunded)).bytes.equals((await renderReceiptPdf(receipt)).bytes)).toBe(
      false,
    );
  });
});

describe('documentHash', () => {
  it('is sha256 hex, the same for equal models whatever order their keys were built in', () => {
    const model = invoiceDocument();
    const hash = documentHash(model);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(documentHash(invoiceDocument())).toBe(hash);
    const reordered = Object.fromEntries(Object.entries(model).reverse()) as unknown as InvoiceDocument;
    reordered.invoice = Object.fromEntries(
      Object.entries(model.invoice).reverse(),
    ) as InvoiceDocument['invoice'];
    expect(documentHash(reordered)).toBe(hash);
  });

  it('changes with anything printed: a line, a name, a date, the stamp, the pay link, the logo bytes', () => {
    const model = invoiceDocument();
    const base = documentHash(model);
    const variants: InvoiceDocument[] = [
      invoiceDocument({ invoice: { ...model.invoice, lines: model.invoice.lines.slice(1) } }),
      invoiceDocument({
        invoice: { ...model.invoice, lines: [{ ...model.invoice.lines[0]!, quantity: 2 }] },
      }),
      invoiceDocument({ student: { ...model.student, fullName: 'आशा कुमार' } }),
      invoiceDocument({ invoice: { ...model.invoice, dueDate: '2026-04-16' } }),
      invoiceDocument({ invoice: { ...model.invoice, stamp: 'PAID' } }),
      invoiceDocument({ payLink: null }),
      invoiceDocument({ school: schoolHeader({ logo: makeLogoPng(32) }) }),
      invoiceDocument({ school: schoolHeader({ locale: 'en-US' }) }),
    ];
    const hashes = variants.map(documentHash);
    expect(new Set([base, ...hashes]).size).toBe(variants.length + 1);

    const logo = makeLogoPng(32);
    const flipped = Buffer.from(logo);
    flipped[flipped.length - 20] = flipped[flipped.length - 20]! ^ 1;
    expect(documentHash(invoiceDocument({ school: schoolHeader({ logo: flipped }) }))).not.toBe(
      documentHash(invoiceDocument({ school: schoolHeader({ logo }) })),
    );
  });

  it('tells an invoice from a receipt and carries the renderer version', () => {
    expect(documentHash(receiptDocument())).not.toBe(documentHash(invoiceDocument()));
    expect(Number.isInteger(RENDERER_VERSION) && RENDERER_VERSION >= 1).toBe(true);
  });
});
