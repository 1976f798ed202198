import { execFileSync } from 'node:child_process';
import { crc32, deflateSync } from 'node:zlib';
import type { InvoiceDocument, InvoiceDocumentLine, ReceiptDocument, SchoolHeader } from './model.js';

/**
 * Test data builders and PDF readers for this package's tests (and anyone
 * testing what the renderer prints): realistic models with every field set,
 * overridable piece by piece, and poppler's pdftotext/pdfinfo over stdin.
 */

/** A school in India: en-IN, INR. */
export function schoolHeader(overrides: Partial<SchoolHeader> = {}): SchoolHeader {
  return {
    name: 'Sunrise Public School',
    address: '14 MG Road, Indiranagar, Bengaluru 560038',
    contactEmail: 'accounts@sunrise.example',
    contactPhone: '+91 80 4123 4567',
    currency: 'INR',
    locale: 'en-IN',
    logo: null,
    ...overrides,
  };
}

/** A line of `amountMinor` at quantity 1. */
export function invoiceLine(
  description: string,
  amountMinor: bigint,
  feeHead: string | null = 'Tuition',
): InvoiceDocumentLine {
  return { description, feeHead, quantity: 1, unitAmountMinor: amountMinor, amountMinor };
}

/** The eight lines of a typical term invoice. */
export const TERM_LINES: readonly InvoiceDocumentLine[] = [
  invoiceLine('Tuition fee — Term 1 (April to June)', 4_500_000n),
  invoiceLine('Transport — Route 7, Indiranagar', 900_000n, 'Transport'),
  invoiceLine('Lunch programme', 600_000n, 'Meals'),
  invoiceLine('Science laboratory', 150_000n, 'Labs'),
  invoiceLine('Library and reading room', 80_000n, 'Library'),
  invoiceLine('Sports and physical education', 120_000n, 'Sports'),
  { description: 'Notebooks', feeHead: 'Books', quantity: 6, unitAmountMinor: 5_000n, amountMinor: 30_000n },
  invoiceLine('Sibling discount', -300_000n, 'Discount'),
];

/** An invoice with a Devanagari student name, eight lines, a partial payment and a pay link. */
export function invoiceDocument(overrides: Partial<InvoiceDocument> = {}): InvoiceDocument {
  const lines = overrides.invoice?.lines ?? [...TERM_LINES];
  const subtotal = lines
    .filter((line) => line.amountMinor > 0n)
    .reduce((sum, line) => sum + line.amountMinor, 0n);
  const discount = -lines
    .filter((line) => line.amountMinor < 0n)
    .reduce((sum, line) => sum + line.amountMinor, 0n);
  const paid = 1_000_000n;
  return {
    school: schoolHeader(),
    student: { fullName: 'आशा रोहन कुमार', admissionNo: 'SPS-2019-0142', className: 'Grade 5 B' },
    guardian: { name: 'Rohan Kumar' },
    payLink: 'https://pay.bursar.example/p/inv_2026_000042_9f8a1c',
    ...overrides,
    invoice: {
      number: 'INV-2026-000042',
      issueDate: '2026-04-01',
      dueDate: '2026-04-15',
      notes: 'Fees once paid are not refundable. Please quote the invoice number with any bank transfer.',
      stamp: 'PARTIAL',
      lines,
      subtotalMinor: subtotal,
      discountMinor: discount,
      paidMinor: paid,
      refundedMinor: 0n,
      balanceMinor: subtotal - discount - paid,
      voidReason: null,
      ...overrides.invoice,
    },
  };
}

/** A receipt for an online (Razorpay) payment towards {@link invoiceDocument}'s invoice. */
export function receiptDocument(overrides: Partial<ReceiptDocument> = {}): ReceiptDocument {
  return {
    school: schoolHeader(),
    payer: { name: 'Rohan Kumar' },
    student: { fullName: 'आशा रोहन कुमार', admissionNo: 'SPS-2019-0142', className: 'Grade 5 B' },
    invoice: { number: 'INV-2026-000042', totalMinor: 6_080_000n, balanceAfterMinor: 5_080_000n },
    ...overrides,
    receipt: {
      number: 'RCT-INV-2026-000042-1',
      paidAt: '2026-04-03T18:45:00Z',
      timeZone: 'Asia/Kolkata',
      amountMinor: 1_000_000n,
      method: 'online',
      reference: 'pay_NxK4ZrB2q9Lm3T',
      provider: 'razorpay',
      refundedMinor: 0n,
      ...overrides.receipt,
    },
  };
}

/** The PDF's text as pdftotext lays it out (`-layout`), all pages or one. */
export function pdfText(bytes: Buffer, page?: number): string {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  return execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', ...range, '-', '-'], {
    input: bytes,
  }).toString('utf8');
}

/** pdfinfo's fields (`Pages`, `Title`, `CreationDate`, …). */
export function pdfInfo(bytes: Buffer): Record<string, string> {
  const out = execFileSync('pdfinfo', ['-enc', 'UTF-8', '-'], { input: bytes }).toString('utf8');
  const fields: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const match = /^([^:]+):\s*(.*)$/.exec(line);
    if (match) fields[match[1]!] = match[2]!;
  }
  return fields;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A valid 8-bit PNG, `width`×`height`, RGB or RGBA, every scanline with
 * filter 0. `pixel` gives each pixel's channels; by default a diagonal
 * gradient (so it is not one flat colour) with a transparent diagonal.
 */
export function makePng(
  width: number,
  height: number,
  alpha = false,
  pixel: (x: number, y: number) => readonly number[] = (x, y) => [
    Math.round((x * 255) / Math.max(1, width - 1)),
    Math.round((y * 255) / Math.max(1, height - 1)),
    160,
    x === y ? 0 : 255,
  ],
): Buffer {
  const channels = alpha ? 4 : 3;
  const raw = Buffer.alloc(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * channels);
    for (let x = 0; x < width; x++) {
      const value = pixel(x, y);
      for (let channel = 0; channel < channels; channel++)
        raw[row + 1 + x * channels + channel] = value[channel] ?? 255;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = alpha ? 6 : 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A logo as schools have them: a flat emblem (a navy disc with a gold
 * square) on a transparent background, `size` pixels square, RGBA.
 */
export function makeLogoPng(size = 240): Buffer {
  const centre = (size - 1) / 2;
  return makePng(size, size, true, (x, y) => {
    const distance = Math.hypot(x - centre, y - centre);
    if (distance > size * 0.48) return [0, 0, 0, 0];
    if (Math.abs(x - centre) < size * 0.18 && Math.abs(y - centre) < size * 0.18) return [212, 160, 23, 255];
    return [11, 79, 138, 255];
  });
}
