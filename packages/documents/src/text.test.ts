import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import { describe, expect, it } from 'vitest';
import { paginate } from './invoice.js';
import { layoutText, measureText, splitByScript } from './text.js';

const require = createRequire(import.meta.url);

describe('splitByScript', () => {
  it('gives Devanagari its own runs and keeps the space between two Devanagari words in them', () => {
    expect(splitByScript('आशा रोहन Kumar')).toEqual([
      { devanagari: true, text: 'आशा रोहन ' },
      { devanagari: false, text: 'Kumar' },
    ]);
    expect(splitByScript('Zoë Łukasz José')).toEqual([{ devanagari: false, text: 'Zoë Łukasz José' }]);
    expect(splitByScript('₹ 500 — आशा')).toEqual([
      { devanagari: false, text: '₹ 500 — ' },
      { devanagari: true, text: 'आशा' },
    ]);
  });

  it('sends the danda, virama, joiners, Devanagari Extended and Vedic Extensions to the Devanagari face', () => {
    for (const text of ['।', '॥', 'क्', 'क्\u200dष', '\ua8e0', '\u1cd0', 'ॐ']) {
      expect(splitByScript(text), text).toEqual([{ devanagari: true, text }]);
    }
  });

  it('collects code points neither face has', () => {
    const missing = new Set<number>();
    splitByScript('தமிழ் Tamil', missing);
    expect([...missing]).toContain('த'.codePointAt(0));
    const none = new Set<number>();
    splitByScript('Zoë आशा ₹ €', none);
    expect(none.size).toBe(0);
  });
});

describe('measuring', () => {
  it('gives the widths pdfkit itself measures with the same font (so what is laid out is what is drawn)', () => {
    const doc = new PDFDocument({ size: 'A4' });
    doc.registerFont(
      'noto',
      readFileSync(require.resolve('@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf')),
    );
    doc.registerFont(
      'deva-bold',
      readFileSync(
        require.resolve('@expo-google-fonts/noto-sans-devanagari/700Bold/NotoSansDevanagari_700Bold.ttf'),
      ),
    );
    doc.font('noto').fontSize(10);
    for (const text of [
      'Tuition fee — Term 1 (April to June)',
      'AVATAR Ty Wa',
      '₹12,34,567.89',
      'Zoë  Łukasz ',
    ]) {
      expect(measureText(text, { size: 10 })).toBeCloseTo(doc.widthOfString(text), 9);
    }
    doc.font('deva-bold').fontSize(11.5);
    expect(measureText('प्रिया शर्मा', { size: 11.5, bold: true })).toBeCloseTo(
      doc.widthOfString('प्रिया शर्मा'),
      9,
    );
  });
});

describe('layoutText', () => {
  const description =
    'Annual development fund contribution towards the new science block, library extension, ' +
    'smart classroom equipment and the sports complex renovation, payable once per academic year.';

  it('wraps at spaces with every line inside the width, losing no word', () => {
    const block = layoutText(description, { size: 8.5 }, 189);
    expect(block.lines.length).toBeGreaterThan(3);
    for (const line of block.lines) expect(line.width).toBeLessThanOrEqual(189);
    const text = block.lines.map((line) => line.segments.map((segment) => segment.text).join('')).join(' ');
    expect(text).toBe(description);
    expect(block.height).toBeCloseTo(block.lines.length * block.lineHeight, 9);
  });

  it('cuts at maxLines with an ellipsis that still fits', () => {
    const block = layoutText(description, { size: 8.5 }, 120, 2);
    expect(block.lines).toHaveLength(2);
    const last = block.lines[1]!;
    expect(last.segments.at(-1)!.text.endsWith('…')).toBe(true);
    expect(last.width).toBeLessThanOrEqual(120);
  });

  it('breaks a word longer than the line between graphemes, never inside a Devanagari cluster', () => {
    const link = 'https://pay.bursar.example/p/' + 'x7Kq9'.repeat(20);
    const block = layoutText(link, { size: 7.5 }, 150);
    expect(block.lines.length).toBeGreaterThan(1);
    expect(block.lines.map((line) => line.segments.map((segment) => segment.text).join('')).join('')).toBe(
      link,
    );
    for (const line of block.lines) expect(line.width).toBeLessThanOrEqual(150);

    const name = 'क्षत्रियप्रियाशर्माकुमारी'.repeat(3);
    const clusters = layoutText(name, { size: 11 }, 60);
    const segmenter = new Intl.Segmenter('und', { granularity: 'grapheme' });
    const graphemes = new Set(Array.from(segmenter.segment(name), (part) => part.index));
    let offset = 0;
    for (const line of clusters.lines) {
      expect(graphemes.has(offset)).toBe(true);
      offset += line.segments.map((segment) => segment.text).join('').length;
      expect(line.width).toBeLessThanOrEqual(60);
    }
  });

  it('keeps newlines, drops control characters and collapses runs of spaces', () => {
    const block = layoutText('Line one\n\nLine\u0007   three\r\n', { size: 9 }, 300);
    expect(block.lines.map((line) => line.segments.map((segment) => segment.text).join(''))).toEqual([
      'Line one',
      '',
      'Line three',
    ]);
  });
});

describe('paginate', () => {
  it('fills pages in order and puts the closing block under the last row when it fits', () => {
    expect(paginate([10, 10, 10], 100, 200, 50)).toEqual([[0, 1, 2]]);
    expect(paginate([40, 40, 40, 40], 100, 100, 10)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it('moves the last row over with the closing block rather than leave totals under an empty table', () => {
    // Two rows fit the first page, the totals do not: the second row goes with them.
    expect(paginate([40, 40], 100, 200, 30)).toEqual([[0], [1]]);
  });

  it('gives the closing block a page of its own only when the last page holds a single row', () => {
    expect(paginate([90], 100, 200, 30)).toEqual([[0], []]);
    expect(paginate([], 100, 200, 30)).toEqual([[]]);
  });
});
