import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { FACES, FONT_FILES, plainCharactersOf, shapedPiece, subsetFor, type Face } from './fonts.js';
import { CANDIDATES } from './plain-glyphs.js';

const require = createRequire(import.meta.url);

interface ReferenceFont {
  unitsPerEm: number;
  _glyphs: Record<number, unknown>;
  layout(text: string): {
    glyphs: { id: number; codePoints: number[] }[];
    positions: { xAdvance: number; yAdvance: number; xOffset: number; yOffset: number }[];
  };
}

/** A font of its own, parsed by the fontkit pdfkit uses, untouched by the renderer's caches. */
function referenceFont(face: Face): ReferenceFont {
  const fontkit = createRequire(require.resolve('pdfkit'))('fontkit') as {
    create(bytes: Buffer): ReferenceFont;
  };
  return fontkit.create(readFileSync(require.resolve(FONT_FILES[face])));
}

/** fontkit's own shaping of `piece`, in the form the renderer keeps (1/1000 em). */
function reference(font: ReferenceFont, piece: string) {
  font._glyphs = {};
  const laidOut = font.layout(piece);
  const scale = 1000 / font.unitsPerEm;
  return {
    glyphs: laidOut.glyphs.map((glyph) => ({ id: glyph.id, codePoints: [...glyph.codePoints] })),
    positions: laidOut.positions.map((position) => [
      position.xAdvance * scale,
      position.yAdvance * scale,
      position.xOffset * scale,
      position.yOffset * scale,
    ]),
  };
}

function renderer(face: Face, piece: string) {
  const run = shapedPiece(face, piece);
  return {
    glyphs: run.glyphs.map((glyph) => ({ id: glyph.id, codePoints: [...glyph.codePoints] })),
    positions: run.positions.map((position) => [
      position.xAdvance,
      position.yAdvance,
      position.xOffset,
      position.yOffset,
    ]),
  };
}

/** A seeded generator, so a failure names a string that fails again. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

describe('plain pieces, put together from cached glyphs and pairs', () => {
  it('leaves out only the characters some default lookup can start on (f only where its ligatures form)', () => {
    // f is plain where no ligature of it forms: "of" is put together, "office" shaped in full.
    expect(plainCharactersOf('sans')).toContain('f');
    expect(shapedPiece('sans', 'fi').glyphs).toHaveLength(1);
    expect(shapedPiece('sans', 'of').glyphs).toHaveLength(2);
    for (const face of FACES) {
      // (Noto Sans Devanagari has no narrow no-break space: it is Noto Sans's, which prints French amounts.)
      const expected = face.startsWith('sans')
        ? '0123456789.,-/:ABCxyz₹€$£ \u00a0\u202féüñ'
        : '0123456789.,-/:ABC₹€';
      for (const char of expected) expect(plainCharactersOf(face), face).toContain(char);
    }
  });

  it.each(FACES)('shape exactly as fontkit shapes the whole string (%s, 500 random strings)', (face) => {
    const font = referenceFont(face);
    const next = random(FACES.indexOf(face) + 1);
    // The face's plain characters, and now and then one that is not (f, a candidate the face
    // lacks, Devanagari, a combining mark): those pieces are shaped in full, the same either way.
    // (ASCII and what amounts and names add to it: a few thousand pairs, each shaped once.)
    const plain = [...plainCharactersOf(face)].filter(
      (char) => char !== ' ' && (char < '\u007f' || '₹€£¥\u00a0\u202féüñÀÉ×'.includes(char)),
    );
    const other = [
      'f',
      'fi',
      'ffl',
      '\u20a2',
      '\u202f',
      'क',
      '\u0301',
      ...CANDIDATES.slice(100, 110).map((code) => String.fromCodePoint(code)),
    ];
    let composed = 0;
    for (let count = 0; count < 500; count++) {
      const length = 2 + Math.floor(next() * 28);
      let piece = '';
      for (let index = 0; index < length; index++) {
        const from = next() < 0.97 ? plain : other;
        piece += from[Math.floor(next() * from.length)]!;
      }
      // As pdfkit breaks text: a piece runs up to and including a space.
      piece += ' ';
      if ([...piece].every((char) => plainCharactersOf(face).includes(char))) composed++;
      expect(renderer(face, piece), JSON.stringify(piece)).toEqual(reference(font, piece));
    }
    expect(composed).toBeGreaterThan(200);
  });

  it('give kerned pairs their kerning and ligatures their ligature, as fontkit does', () => {
    const font = referenceFont('sans');
    for (const piece of [
      'AVATAR',
      'Ty Wa',
      'To.',
      'office',
      '₹12,34,567.89',
      '1.250,00\u00a0€',
      'https://pay.example/i/AbCfi9',
    ]) {
      expect(renderer('sans', piece), piece).toEqual(reference(font, piece));
    }
    const avatar = renderer('sans', 'AV').positions;
    expect(avatar[0]![0]).toBeLessThan(shapedPiece('sans', 'A').positions[0]!.xAdvance);
  });
});

describe('font subsets from the glyph cache', () => {
  it.each(FACES)('are the bytes fontkit writes itself, compound glyphs included (%s)', (face) => {
    const texts = [
      'INV-2026-000042 ₹12,34,567.89 Zoë Łukasz José Müller Ñandú Åse Øre',
      'आशा रोहन कुमार क्षत्रिय श्री द्वितीय',
      'https://pay.bursar.example/api/pay/i/8af0179f-6cd8.6kN-YKAYJi2EHXt6-h8w',
    ];
    for (const text of texts) {
      // Twice cached: the second subset is made wholly from the cache.
      const fontkitOwn = Buffer.from(subsetFor(face, text, false));
      expect(Buffer.from(subsetFor(face, text, true)).equals(fontkitOwn), text).toBe(true);
      expect(Buffer.from(subsetFor(face, text, true)).equals(fontkitOwn), text).toBe(true);
    }
  });
});
