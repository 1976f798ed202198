import { execFileSync } from 'node:child_process';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
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

/**
 * Documents that between them use every face, script, stamp and block: what
 * the determinism test renders in two processes and compares.
 */
export function fixtureDocuments(): Record<string, InvoiceDocument | ReceiptDocument> {
  const base = invoiceDocument();
  return {
    invoice: base,
    withLogo: invoiceDocument({ school: schoolHeader({ logo: makeLogoPng(96) }) }),
    long: invoiceDocument({
      guardian: { name: 'प्रिया शर्मा' },
      invoice: {
        ...base.invoice,
        stamp: 'VOID',
        voidReason: 'Issued twice',
        lines: Array.from({ length: 60 }, (_, index) =>
          invoiceLine(
            `Activity ${index + 1}: क्षेत्र भ्रमण (field trip) — Zoë’s group`,
            1_000n * BigInt(index + 1),
          ),
        ),
      },
    }),
    euro: invoiceDocument({
      school: schoolHeader({ currency: 'EUR', locale: 'de-DE', name: 'Grundschule Müllerstraße' }),
      student: { fullName: 'Łukasz Jürgen Ærø', admissionNo: 'GS-12', className: '3a' },
      payLink: null,
    }),
    receipt: receiptDocument(),
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

/** A word pdftotext found, with its box in points (y from the top of the page). */
export interface PdfWord {
  page: number;
  text: string;
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}

const XML_ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&apos;': "'",
};

/** Every word of the PDF with its bounding box (`pdftotext -bbox`). */
export function pdfWords(bytes: Buffer): PdfWord[] {
  const html = execFileSync('pdftotext', ['-bbox', '-enc', 'UTF-8', '-', '-'], { input: bytes }).toString(
    'utf8',
  );
  const words: PdfWord[] = [];
  let page = 0;
  const pattern =
    /<page |<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g;
  for (const match of html.matchAll(pattern)) {
    if (match[0] === '<page ') {
      page++;
      continue;
    }
    words.push({
      page,
      text: match[5]!.replace(/&(amp|lt|gt|quot|apos);/g, (entity) => XML_ENTITIES[entity]!),
      xMin: Number(match[1]),
      yMin: Number(match[2]),
      xMax: Number(match[3]),
      yMax: Number(match[4]),
    });
  }
  return words;
}

/** The images `pdfimages -list` finds: page, pixel size, colour. */
export function pdfImages(bytes: Buffer): { page: number; width: number; height: number; color: string }[] {
  const out = execFileSync('pdfimages', ['-list', '-'], { input: bytes }).toString('utf8');
  return out
    .split('\n')
    .slice(2)
    .filter((line) => line.trim())
    .map((line) => {
      const [page, , , width, height, color] = line.trim().split(/\s+/);
      return { page: Number(page), width: Number(width), height: Number(height), color: color! };
    });
}

/** The fonts `pdffonts` finds: name (with its subset tag), type, embedded, subset, ToUnicode. */
export function pdfFonts(
  bytes: Buffer,
): { name: string; embedded: boolean; subset: boolean; unicode: boolean }[] {
  const out = execFileSync('pdffonts', ['-'], { input: bytes }).toString('utf8');
  return out
    .split('\n')
    .slice(2)
    .filter((line) => line.trim())
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      const [emb, sub, uni] = fields.slice(-5, -2);
      return { name: fields[0]!, embedded: emb === 'yes', subset: sub === 'yes', unicode: uni === 'yes' };
    });
}

/** Every stream of the PDF, inflated where it is Flate-compressed (to read content operators). */
export function pdfStreams(bytes: Buffer): string[] {
  const text = bytes.toString('latin1');
  const streams: string[] = [];
  const pattern = /<<((?:[^<>]|<<[^]*?>>|<[^<>]*>)*?)>>\s*stream\r?\n/g;
  for (const match of text.matchAll(pattern)) {
    const start = match.index + match[0].length;
    const end = text.indexOf('endstream', start);
    const raw = bytes.subarray(start, end);
    streams.push(
      /\/FlateDecode/.test(match[1]!) ? inflateSync(raw).toString('latin1') : raw.toString('latin1'),
    );
  }
  return streams;
}

/**
 * The smallest baseline JPEG worth the name: 8×8, one grey component, every
 * quantiser 1, one Huffman code each for "DC difference 0" and "end of
 * block", so its single block is flat mid-grey. Enough for a decoder (and
 * pdfkit) to accept, with no encoder in the test.
 */
export function makeJpeg(): Buffer {
  const segment = (marker: number, body: number[]) => [
    0xff,
    marker,
    (body.length + 2) >> 8,
    (body.length + 2) & 0xff,
    ...body,
  ];
  const oneCode = (tableClass: number, value: number) => [tableClass, 1, ...Array<number>(15).fill(0), value];
  return Buffer.from([
    0xff,
    0xd8,
    ...segment(0xdb, [0x00, ...Array<number>(64).fill(1)]),
    ...segment(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]),
    ...segment(0xc4, oneCode(0x00, 0)),
    ...segment(0xc4, oneCode(0x10, 0)),
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]),
    // Two one-bit codes (DC 0, end of block), padded with 1s.
    0x3f,
    0xff,
    0xd9,
  ]);
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
