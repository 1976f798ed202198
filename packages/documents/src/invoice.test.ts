import { crc32 } from 'node:zlib';
import { formatMoney } from '@bursar/contracts';
import jsQRModule from 'jsqr';
import { describe, expect, it } from 'vitest';
import { renderInvoicePdf } from './index.js';
import type { InvoiceDocument, InvoiceDocumentLine } from './model.js';
import {
  invoiceDocument,
  invoiceLine,
  makeJpeg,
  makeLogoPng,
  makePng,
  pdfFonts,
  pdfImages,
  pdfInfo,
  pdfStreams,
  pdfText,
  pdfWords,
  schoolHeader,
} from './testing.js';

// jsqr is CommonJS whose module.exports is the function (and its `default`); its types declare only the default.
const jsQR = (jsQRModule as unknown as { default: typeof jsQRModule.default }).default;

/** pdftotext -layout pads columns with spaces; compare text with runs of spaces as one. */
function squash(text: string): string {
  return text.replace(/[ \t]+/g, ' ');
}

const A4_WIDTH = 595.28;
const MARGIN = 42;

describe('an invoice in the school’s currency and locale', () => {
  const cases = [
    {
      currency: 'INR',
      locale: 'en-IN',
      student: 'आशा रोहन कुमार',
      guardian: 'रोहन कुमार',
      printed: '₹1,250.00',
      issued: '1 Apr 2026',
    },
    {
      currency: 'USD',
      locale: 'en-US',
      student: 'Zoë Łukasz-Núñez',
      guardian: 'José Álvarez',
      printed: '$1,250.00',
      issued: 'Apr 1, 2026',
    },
    {
      currency: 'EUR',
      locale: 'de-DE',
      student: 'Jürgen Søren Ærøe',
      guardian: 'Françoise Müller',
      printed: '1.250,00\u00a0€',
      issued: '01.04.2026',
    },
  ];

  for (const { currency, locale, student, guardian, printed, issued } of cases) {
    it(`${currency} in ${locale}: number, names, every line and the balance as formatMoney prints it`, async () => {
      const model = invoiceDocument({
        school: schoolHeader({ currency, locale }),
        student: { fullName: student, admissionNo: 'ADM-77', className: '5 B' },
        guardian: { name: guardian },
      });
      model.invoice.balanceMinor = 125_000n;
      expect(formatMoney(125_000n, currency, locale)).toBe(printed);

      const result = await renderInvoicePdf(model);
      expect(result.warnings).toEqual([]);
      expect(result.pages).toBe(1);
      const text = pdfText(result.bytes);
      expect(text).toContain('INV-2026-000042');
      expect(text).toContain(student);
      expect(text).toContain(`Guardian: ${guardian}`);
      expect(text).toContain('Admission no. ADM-77');
      for (const line of model.invoice.lines) expect(text).toContain(line.description);
      // pdftotext reads a no-break space as a plain one; the text layer itself has U+00A0 (below).
      const extracted = printed.replace(/\u00a0/g, ' ');
      expect(text).toMatch(new RegExp(`Balance due\\s+${extracted.replace(/[$.]/g, '\\$&')}`));
      if (printed.includes('\u00a0')) {
        const unicodeMaps = pdfStreams(result.bytes).filter((stream) => stream.includes('beginbfrange'));
        expect(unicodeMaps.some((map) => map.includes('<00a0>'))).toBe(true);
      }
      expect(text).toContain(issued);
      expect(text).toContain(
        formatMoney(model.invoice.subtotalMinor, currency, locale).replace(/\u00a0/g, ' '),
      );
      expect(pdfInfo(result.bytes).Title).toBe('Invoice INV-2026-000042');
    });
  }

  it('embeds Noto Sans and Noto Sans Devanagari as subsets, each with a ToUnicode map', async () => {
    const { bytes } = await renderInvoicePdf(invoiceDocument({ guardian: { name: 'रोहन कुमार' } }));
    const fonts = pdfFonts(bytes);
    expect(fonts.map((font) => font.name.replace(/^[A-Z]{6}\+/, '')).sort()).toEqual([
      'NotoSans-Bold',
      'NotoSans-Regular',
      'NotoSansDevanagari-Bold',
      'NotoSansDevanagari-Regular',
    ]);
    for (const font of fonts) expect(font).toMatchObject({ embedded: true, subset: true, unicode: true });
  });

  it('prints Devanagari so it reads back as written, pre-base vowel signs and reph included', async () => {
    const names = ['प्रिया शर्मा', 'कुमार', 'आशा', 'क्षितिज त्रिपाठी', 'सूर्य धर्मेंद्र'];
    const model = invoiceDocument({
      student: { fullName: names[0]!, admissionNo: 'A1', className: null },
      guardian: { name: names[3]! },
      invoice: {
        ...invoiceDocument().invoice,
        lines: [
          invoiceLine(`ट्यूशन फ़ीस — ${names[1]} (Tuition, April)`, 100_000n, 'शिक्षण'),
          invoiceLine(`${names[2]} ${names[4]}: Transport`, 50_000n),
        ],
      },
    });
    const text = pdfText((await renderInvoicePdf(model)).bytes);
    for (const name of names) expect(text).toContain(name);
    expect(text).toContain('ट्यूशन फ़ीस — कुमार (Tuition, April)');
    expect(text).toContain('शिक्षण');
  });

  it('lists no line twice and keeps them in order', async () => {
    const text = pdfText((await renderInvoicePdf(invoiceDocument())).bytes);
    const positions = invoiceDocument().invoice.lines.map((line) => text.indexOf(line.description));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });
});

describe('a long invoice', () => {
  const lines: InvoiceDocumentLine[] = Array.from({ length: 90 }, (_, index) =>
    invoiceLine(
      `Activity ${String(index + 1).padStart(2, '0')}: field trip and workshop materials`,
      1_000n * BigInt(index + 1),
    ),
  );
  const model = invoiceDocument({ invoice: { ...invoiceDocument().invoice, lines } });

  it('flows over several pages with the table header, "Page N of M" and the number on each, totals on the last only', async () => {
    const result = await renderInvoicePdf(model);
    const pages = Number(pdfInfo(result.bytes).Pages);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(result.pages).toBe(pages);
    const seen: string[] = [];
    for (let page = 1; page <= pages; page++) {
      const text = squash(pdfText(result.bytes, page));
      expect(text, `page ${page}`).toMatch(/Description +Fee head +Qty +Unit amount +Amount/);
      expect(text, `page ${page}`).toContain(`Page ${page} of ${pages}`);
      expect(text, `page ${page}`).toContain('INV-2026-000042');
      expect(text.includes('Balance due'), `page ${page}`).toBe(page === pages);
      expect(text.includes('Subtotal'), `page ${page}`).toBe(page === pages);
      seen.push(...(text.match(/Activity \d\d/g) ?? []));
      expect(text.match(/Activity \d\d/g)?.length ?? 0, `rows on page ${page}`).toBeGreaterThan(0);
    }
    expect(seen).toEqual(lines.map((_, index) => `Activity ${String(index + 1).padStart(2, '0')}`));
  });
});

describe('long strings and every script', () => {
  const longDescription = (
    'Annual development fund contribution for the new science block, library extension, smart ' +
    'classroom equipment, sports complex renovation and the auditorium sound system, per student.'
  ).slice(0, 200);
  const longName =
    `Maria-Zoë Łukasz Fernández de la Cruz y Montenegro आशा प्रिया शर्मा ${'Vasquez-Oyelaran '.repeat(3)}`.slice(
      0,
      120,
    );
  const model: InvoiceDocument = invoiceDocument({
    school: schoolHeader({
      name: 'The Very Long Named International Residential Academy of Sciences, Arts and Humanities',
      address:
        'Plot 114-B, Survey No. 27/3, Behind the Old Municipal Water Tank, Near Sri Venkateshwara Temple, ' +
        'Outer Ring Road, Marathahalli, Bengaluru Rural District, Karnataka 560037, India',
      contactEmail: 'accounts.department.office@very-long-named-international-academy.example',
    }),
    student: {
      fullName: longName,
      admissionNo: 'ADM-2019-000000000142',
      className: 'Grade 12 Science (PCMB) Section D',
    },
    guardian: { name: longName },
    payLink: `https://pay.bursar.example/p/${'q9Zr'.repeat(24)}`,
    invoice: {
      ...invoiceDocument().invoice,
      number: 'INV-2026-000000000042',
      lines: [
        {
          description: longDescription,
          feeHead: 'Development fund and infrastructure',
          quantity: 1,
          unitAmountMinor: 99_999_999_999_99n,
          amountMinor: 99_999_999_999_99n,
        },
        invoiceLine('ZoëÅçé Łódź naïve café — résumé, Ærøskøbing', 1_000n),
        invoiceLine('विद्यालय विकास निधि (वार्षिक) — पुस्तकालय एवं प्रयोगशाला', 2_000n, 'विकास'),
      ],
      balanceMinor: 99_999_999_999_99n,
      notes: `बकाया राशि का भुगतान समय पर करें।\n${'Please pay before the due date to avoid a late fee. '.repeat(12)}`,
      stamp: 'OVERDUE',
    },
  });

  it('renders, keeps every word inside the margins, and the texts stay readable', async () => {
    const result = await renderInvoicePdf(model);
    expect(result.warnings).toEqual([]);
    const words = pdfWords(result.bytes).filter((word) => !['OVERDUE'].includes(word.text));
    expect(words.length).toBeGreaterThan(100);
    for (const word of words) {
      expect(word.xMin, word.text).toBeGreaterThanOrEqual(MARGIN - 0.5);
      expect(word.xMax, word.text).toBeLessThanOrEqual(A4_WIDTH - MARGIN + 0.5);
    }
    const text = squash(pdfText(result.bytes));
    for (const word of longDescription.split(' ')) expect(text).toContain(word);
    expect(text).toContain('ZoëÅçé Łódź naïve café — résumé, Ærøskøbing');
    expect(text).toContain('विद्यालय विकास निधि (वार्षिक)');
    expect(text).toContain('बकाया राशि का भुगतान समय पर करें।');
    expect(text).toContain('INV-2026-000000000042');
    expect(text).toContain(formatMoney(99_999_999_999_99n, 'INR', 'en-IN'));
    expect(text).toContain('OVERDUE');
  });

  it('keeps descriptions and fee heads in their columns: nothing of a cell reaches into the next', async () => {
    const { bytes } = await renderInvoicePdf(model);
    const words = pdfWords(bytes);
    const find = (label: string) => words.find((word) => word.text === label)!;
    // Columns start where their (left-aligned) header text does, less the 6pt cell padding; the
    // quantity column (36pt) ends where its right-aligned header does, plus the padding.
    const feeHeadStart = find('Fee').xMin - 6;
    const quantityStart = find('Qty').xMax + 6 - 36;
    const cells = words.filter((word) => word.yMin > find('Fee').yMax && word.yMax < find('Subtotal').yMin);
    const descriptions = cells.filter((word) => word.xMin < feeHeadStart);
    const feeHeads = cells.filter((word) => word.xMin >= feeHeadStart && word.xMin < quantityStart);
    expect(descriptions.length).toBeGreaterThan(25);
    expect(feeHeads.map((word) => word.text)).toEqual(
      expect.arrayContaining(['Development', 'infrastructure']),
    );
    for (const word of descriptions) expect(word.xMax, word.text).toBeLessThanOrEqual(feeHeadStart);
    for (const word of feeHeads) expect(word.xMax, word.text).toBeLessThanOrEqual(quantityStart);
  });

  it('ellipsises a name too long for its lines rather than letting it run on', async () => {
    const huge = invoiceDocument({
      student: { fullName: 'Bartholomew '.repeat(30), admissionNo: 'A', className: null },
    });
    const { bytes } = await renderInvoicePdf(huge);
    const text = pdfText(bytes);
    expect(text).toContain('…');
    expect((text.match(/Bartholomew/g) ?? []).length).toBeLessThan(30);
  });
});

describe('the logo', () => {
  const logos: [string, Buffer, RegExp][] = [
    ['an empty buffer', Buffer.alloc(0), /logo left out: the logo is empty/],
    [
      'random bytes',
      Buffer.from(Array.from({ length: 512 }, (_, index) => (index * 73 + 41) % 256)),
      /neither a PNG nor a JPEG/,
    ],
    ['a truncated PNG', makePng(64, 64).subarray(0, 300), /PNG is truncated/],
    ['a PNG with a corrupt chunk', corrupt(makePng(16, 16), 60), /PNG is corrupt \(bad CRC/],
    ['a PNG whose data is cut short but whose chunks are whole', shortIdat(), /does not inflate|header says/],
    ['a truncated JPEG', makeJpeg().subarray(0, 120), /JPEG is truncated/],
    ['a JPEG header with nothing after it', Buffer.from([0xff, 0xd8, 0xff]), /JPEG is truncated/],
  ];

  for (const [name, logo, warning] of logos) {
    it(`${name}: renders without it and says why in warnings`, async () => {
      const result = await renderInvoicePdf(invoiceDocument({ school: schoolHeader({ logo }) }));
      expect(result.warnings).toHaveLength(1);
      expect(result.warnings[0]).toMatch(warning);
      expect(pdfImages(result.bytes)).toEqual([]);
      expect(pdfText(result.bytes)).toContain('Sunrise Public School');
    });
  }

  const good: [string, Buffer, { width: number; height: number; color: string }][] = [
    ['an RGB PNG', makePng(48, 32), { width: 48, height: 32, color: 'rgb' }],
    ['an RGBA PNG (flattened onto white)', makeLogoPng(120), { width: 120, height: 120, color: 'rgb' }],
    ['a JPEG', makeJpeg(), { width: 8, height: 8, color: 'gray' }],
  ];
  for (const [name, logo, image] of good) {
    it(`${name} is drawn`, async () => {
      const result = await renderInvoicePdf(invoiceDocument({ school: schoolHeader({ logo }) }));
      expect(result.warnings).toEqual([]);
      expect(pdfImages(result.bytes)).toEqual([{ page: 1, ...image }]);
    });
  }

  it('flattens transparency onto white: a transparent pixel prints white, an opaque one its colour', async () => {
    const { bytes } = await renderInvoicePdf(
      invoiceDocument({ school: schoolHeader({ logo: makeLogoPng(120) }) }),
    );
    const image = pdfStreams(bytes).find((stream) => stream.length === 120 * 3 * 120 + 120);
    expect(image).toBeDefined();
    // Each scanline is filter byte 0 then RGB: the corner is outside the disc, the centre inside the gold square.
    const pixel = (x: number, y: number) => [
      ...Buffer.from(image!.slice(y * 361 + 1 + x * 3, y * 361 + 4 + x * 3), 'latin1'),
    ];
    expect(pixel(0, 0)).toEqual([255, 255, 255]);
    expect(pixel(60, 60)).toEqual([212, 160, 23]);
    expect(pixel(60, 10)).toEqual([11, 79, 138]);
  });
});

describe('stamp, pay link and notes', () => {
  it('prints the stamp, and for VOID the reason; no stamp when there is none', async () => {
    for (const stamp of ['PAID', 'PARTIAL', 'OVERDUE'] as const) {
      const text = pdfText(
        (await renderInvoicePdf(invoiceDocument({ invoice: { ...invoiceDocument().invoice, stamp } }))).bytes,
      );
      expect(text.replace(/\s/g, '')).toContain(stamp);
    }
    const voided = invoiceDocument({
      invoice: {
        ...invoiceDocument().invoice,
        stamp: 'VOID',
        voidReason: 'Issued twice by mistake; see INV-2026-000043',
      },
    });
    const voidText = pdfText((await renderInvoicePdf(voided)).bytes);
    expect(voidText).toContain('Void: Issued twice by mistake; see INV-2026-000043');
    const plain = pdfText(
      (await renderInvoicePdf(invoiceDocument({ invoice: { ...invoiceDocument().invoice, stamp: null } })))
        .bytes,
    );
    for (const word of ['PAID', 'PARTIAL', 'OVERDUE', 'VOID'])
      expect(plain.replace(/\s/g, '')).not.toContain(word);
  });

  it('prints the pay link as text and draws a QR code that scans to it', async () => {
    const model = invoiceDocument();
    const { bytes } = await renderInvoicePdf(model);
    expect(pdfText(bytes)).toContain(model.payLink);

    const content = pdfStreams(bytes).find((stream) => / re\n/.test(stream))!;
    const rects = [...content.matchAll(/(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re\n/g)].map((match) =>
      match.slice(1, 5).map(Number),
    );
    // The QR code is drawn 88pt square, one rectangle per run of dark modules in a row, all one
    // module high; the table header's fill is the only other rectangle on the page.
    const moduleSide = Math.min(...rects.map(([, , , height]) => Math.abs(height!)));
    const qr = rects.filter(([, , , height]) => Math.abs(Math.abs(height!) - moduleSide) < 1e-3);
    expect(rects.length - qr.length).toBe(1);
    const modules = Math.round(88 / moduleSide);
    expect(modules - 8).toBeGreaterThanOrEqual(21);
    // Scanned as a phone would see it: rasterised at 4 px a module, quiet zone included.
    const left = Math.min(...qr.map(([x]) => x!)) - 4 * moduleSide;
    const top = Math.min(...qr.map(([, y]) => y!)) - 4 * moduleSide;
    const px = 4;
    const side = modules * px;
    const image = new Uint8ClampedArray(side * side * 4).fill(255);
    for (const [x, y, width] of qr) {
      const row = Math.round((y! - top) / moduleSide);
      const from = Math.round((x! - left) / moduleSide);
      const to = from + Math.round(width! / moduleSide);
      for (let py = row * px; py < (row + 1) * px; py++) {
        for (let pxx = from * px; pxx < to * px; pxx++)
          image.fill(0, (py * side + pxx) * 4, (py * side + pxx) * 4 + 3);
      }
    }
    expect(jsQR(image, side, side)?.data).toBe(model.payLink);
  });

  it('prints a pay link too long for any QR code as text alone, and says so', async () => {
    const link = `https://pay.bursar.example/p/${'x'.repeat(3000)}`;
    const result = await renderInvoicePdf(invoiceDocument({ payLink: link }));
    expect(result.warnings).toEqual([expect.stringMatching(/^pay link printed without its QR code/)]);
    const text = pdfText(result.bytes);
    expect(text).toContain('Open the link below.');
    expect(text).toContain('https://pay.bursar.example/p/xxx');
    expect(
      pdfStreams(result.bytes)
        .find((stream) => / re\n/.test(stream))!
        .match(/ re\n/g),
    ).toHaveLength(1);
  });

  it('leaves out the QR code and notes when there are none', async () => {
    const model = invoiceDocument({ payLink: null, invoice: { ...invoiceDocument().invoice, notes: null } });
    const { bytes } = await renderInvoicePdf(model);
    const text = pdfText(bytes);
    expect(text).not.toContain('Pay online');
    expect(text).not.toContain('NOTES');
    const content = pdfStreams(bytes).find((stream) => / re\n/.test(stream))!;
    expect(content.match(/ re\n/g)).toHaveLength(1);
  });

  it('prints discount and refunded only when they are not zero', async () => {
    const base = invoiceDocument().invoice;
    const without = pdfText(
      (
        await renderInvoicePdf(
          invoiceDocument({ invoice: { ...base, lines: base.lines.slice(0, 3), discountMinor: 0n } }),
        )
      ).bytes,
    );
    expect(without).not.toMatch(/Discount\s+-/);
    expect(without).not.toContain('Refunded');
    const refunded = pdfText(
      (await renderInvoicePdf(invoiceDocument({ invoice: { ...base, refundedMinor: 25_000n } }))).bytes,
    );
    expect(squash(refunded)).toContain('Refunded ₹250.00');
  });
});

function corrupt(png: Buffer, at: number): Buffer {
  const copy = Buffer.from(png);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

/** A PNG whose IDAT holds the first half of the compressed pixels, with a correct CRC. */
function shortIdat(): Buffer {
  const png = makePng(32, 32);
  const idatStart = 8 + 25;
  const length = png.readUInt32BE(idatStart);
  const data = png.subarray(idatStart + 8, idatStart + 8 + length).subarray(0, Math.floor(length / 2));
  return makePngWithIdat(png.subarray(0, idatStart), data);
}

function makePngWithIdat(head: Buffer, data: Buffer): Buffer {
  const chunk = (type: string, body: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), body])));
    return Buffer.concat([length, Buffer.from(type), body, crc]);
  };
  return Buffer.concat([head, chunk('IDAT', data), chunk('IEND', Buffer.alloc(0))]);
}
