import { advanceOf, faceHasGlyph, type DocumentFont, type Face, type GlyphPosition } from './fonts.js';

/** How a piece of text is set: size in points, regular or bold. */
export interface TextStyle {
  size: number;
  bold?: boolean;
}

/** A stretch of one line printed in one face; `width` in points at the block's size. */
export interface Segment {
  face: Face;
  text: string;
  width: number;
}

/** One line of a {@link TextBlock}. */
export interface TextLine {
  segments: Segment[];
  width: number;
}

/** Text broken into lines that fit a width, ready to draw (and to know its height before drawing). */
export interface TextBlock {
  lines: TextLine[];
  size: number;
  lineHeight: number;
  height: number;
  /** The widest line. */
  width: number;
  /** Code points neither face has a glyph for (they print as a box). */
  missing: readonly number[];
}

/**
 * Line metrics shared by every face, so a line mixing Latin and Devanagari has
 * one baseline: Noto Sans Devanagari sits lower (descent 408/1000 against 293)
 * and its marks reach below the baseline, Latin accents above the cap height.
 */
const LINE_HEIGHT = 1.38;
const BASELINE = 0.98;

/** The height of one line of text at `size` points. */
export function lineHeightOf(size: number): number {
  return size * LINE_HEIGHT;
}

const ELLIPSIS = '…';

function isDevanagari(codePoint: number): boolean {
  return (
    (codePoint >= 0x0900 && codePoint <= 0x097f) ||
    (codePoint >= 0xa8e0 && codePoint <= 0xa8ff) ||
    (codePoint >= 0x1cd0 && codePoint <= 0x1cff)
  );
}

/**
 * Characters that belong to whatever run they sit in: a space between two
 * Devanagari words stays in the Devanagari run (one run, one draw), and the
 * joiners and dotted circle must stay with the cluster they shape.
 */
function isNeutral(codePoint: number): boolean {
  return codePoint === 0x20 || codePoint === 0x200c || codePoint === 0x200d || codePoint === 0x25cc;
}

/** 0: Noto Sans has it; 1: only Noto Sans Devanagari has it; 2: neither. */
const coverage = new Map<number, 0 | 1 | 2>();

function coverageOf(codePoint: number): 0 | 1 | 2 {
  if (codePoint < 0x7f) return 0;
  let known = coverage.get(codePoint);
  if (known === undefined) {
    known = faceHasGlyph('sans', codePoint) ? 0 : faceHasGlyph('deva', codePoint) ? 1 : 2;
    coverage.set(codePoint, known);
  }
  return known;
}

interface ScriptRun {
  devanagari: boolean;
  text: string;
}

/**
 * Splits text into runs by script: Devanagari (the main block, Extended and
 * Vedic Extensions) for the Devanagari face, everything else for Noto Sans
 * unless only the Devanagari face has the glyph. Code points with no glyph in
 * either face are collected into `missing`.
 */
export function splitByScript(text: string, missing?: Set<number>): ScriptRun[] {
  const runs: ScriptRun[] = [];
  let current: ScriptRun | undefined;
  let pendingNeutral = '';
  for (const char of text) {
    const codePoint = char.codePointAt(0)!;
    if (isNeutral(codePoint)) {
      if (current) current.text += char;
      else pendingNeutral += char;
      continue;
    }
    let devanagari = isDevanagari(codePoint);
    if (!devanagari) {
      const covered = coverageOf(codePoint);
      if (covered === 1) devanagari = true;
      else if (covered === 2) missing?.add(codePoint);
    }
    if (!current || current.devanagari !== devanagari) {
      current = { devanagari, text: pendingNeutral + char };
      pendingNeutral = '';
      runs.push(current);
    } else {
      current.text += char;
    }
  }
  if (pendingNeutral) runs.push({ devanagari: false, text: pendingNeutral });
  return runs;
}

function faceFor(devanagari: boolean, bold: boolean): Face {
  if (devanagari) return bold ? 'deva-bold' : 'deva';
  return bold ? 'sans-bold' : 'sans';
}

function segmentsOf(text: string, style: TextStyle, missing?: Set<number>): TextLine {
  const bold = style.bold ?? false;
  const scale = style.size / 1000;
  const segments: Segment[] = [];
  let width = 0;
  for (const run of splitByScript(text, missing)) {
    const face = faceFor(run.devanagari, bold);
    const segmentWidth = advanceOf(face, run.text) * scale;
    segments.push({ face, text: run.text, width: segmentWidth });
    width += segmentWidth;
  }
  return { segments, width };
}

/** The width in points of `text` on one line, as it will be drawn. */
export function measureText(text: string, style: TextStyle): number {
  return segmentsOf(text, style).width;
}

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

function splitGraphemes(text: string): string[] {
  // Printable ASCII is one grapheme per character (a pay link, an invoice number): no segmenter.
  if (/^[\x20-\x7e]*$/.test(text)) return text.split('');
  return Array.from(graphemes.segment(text), (part) => part.segment);
}

/** Control characters and tabs become spaces; runs of spaces collapse; each line is trimmed of spaces. */
function cleanParagraphs(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) =>
      line
        // eslint-disable-next-line no-control-regex -- stripping control characters is the point
        .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ')
        // Only plain spaces collapse: a no-break space (1.250,00 €) or narrow one (1 250,00 €) is the locale's.
        .replace(/ {2,}/g, ' ')
        .replace(/^ +| +$/g, ''),
    );
}

/**
 * How many of `parts` (graphemes), from the start, fit in `maxWidth` once
 * `compose` has made them into the text to draw. The widths of single
 * graphemes (each shaped once per process) add up to a guess; the drawn width
 * of the composed text, which kerning makes differ a little from the sum,
 * then moves the count to the exact boundary. So a long word costs a few
 * shapings of its pieces, not one per prefix (a pay link of 100 characters
 * would otherwise be shaped 100 times, each a new string).
 */
function fittingCount(
  parts: readonly string[],
  style: TextStyle,
  maxWidth: number,
  compose: (text: string) => string = (text) => text,
): number {
  const widthOf = (count: number) => measureText(compose(parts.slice(0, count).join('')), style);
  let count = 0;
  let guess = widthOf(0);
  while (count < parts.length) {
    const next = measureText(parts[count]!, style);
    if (guess + next > maxWidth) break;
    guess += next;
    count++;
  }
  while (count < parts.length && widthOf(count + 1) <= maxWidth) count++;
  while (count > 0 && widthOf(count) > maxWidth) count--;
  return count;
}

/**
 * Breaks a word wider than the line into pieces that fit, at grapheme
 * boundaries (never inside a cluster); a grapheme wider than the line on its
 * own is a piece by itself.
 */
function breakWord(word: string, style: TextStyle, maxWidth: number): string[] {
  const pieces: string[] = [];
  let rest = splitGraphemes(word);
  while (rest.length > 0) {
    const count = Math.max(1, fittingCount(rest, style, maxWidth));
    pieces.push(rest.slice(0, count).join(''));
    rest = rest.slice(count);
  }
  return pieces;
}

function wrapParagraph(paragraph: string, style: TextStyle, maxWidth: number, into: string[], limit: number) {
  if (!paragraph) {
    into.push('');
    return;
  }
  let line = '';
  for (const word of paragraph.split(' ')) {
    if (into.length >= limit) return;
    const candidate = line ? `${line} ${word}` : word;
    if (measureText(candidate, style) <= maxWidth) {
      line = candidate;
      continue;
    }
    if (line) into.push(line);
    line = '';
    if (measureText(word, style) <= maxWidth) {
      line = word;
    } else {
      const pieces = breakWord(word, style, maxWidth);
      line = pieces.pop() ?? '';
      into.push(...pieces);
    }
  }
  if (line) into.push(line);
}

/** The longest start of `line` that fits `maxWidth` with an ellipsis after it. */
function ellipsize(line: string, style: TextStyle, maxWidth: number): string {
  const compose = (text: string) => `${text.trimEnd()}${ELLIPSIS}`;
  const parts = splitGraphemes(line);
  const count = fittingCount(parts, style, maxWidth, compose);
  return count > 0 ? compose(parts.slice(0, count).join('')) : ELLIPSIS;
}

const blocks = new Map<string, TextBlock>();
const MAX_CACHED_BLOCKS = 20_000;

/**
 * Lays `text` out in lines no wider than `maxWidth`: words wrap, a word
 * longer than the line breaks between graphemes, newlines are kept, and past
 * `maxLines` the last line ends in an ellipsis. Blocks are immutable and
 * cached, so labels and descriptions repeated across documents are laid out
 * once per process.
 */
export function layoutText(
  text: string,
  style: TextStyle,
  maxWidth: number,
  maxLines: number = Number.POSITIVE_INFINITY,
): TextBlock {
  const key = `${style.size}|${style.bold ? 1 : 0}|${maxWidth}|${maxLines}|${text}`;
  const cached = blocks.get(key);
  if (cached) return cached;

  const lines: string[] = [];
  // One line more than allowed tells whether the text was cut.
  const limit = maxLines + 1;
  for (const paragraph of cleanParagraphs(text)) {
    if (lines.length >= limit) break;
    wrapParagraph(paragraph, style, maxWidth, lines, limit);
  }
  while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] = ellipsize(lines[maxLines - 1]!, style, maxWidth);
  }

  const missing = new Set<number>();
  const laidOut = lines.map((line) => segmentsOf(line, style, missing));
  const lineHeight = lineHeightOf(style.size);
  const block: TextBlock = {
    lines: laidOut,
    size: style.size,
    lineHeight,
    height: laidOut.length * lineHeight,
    width: laidOut.reduce((widest, line) => Math.max(widest, line.width), 0),
    missing: [...missing],
  };
  if (blocks.size >= MAX_CACHED_BLOCKS) blocks.clear();
  blocks.set(key, block);
  return block;
}

/**
 * One line that fits `maxWidth`: at `style.size` if it can, else at a smaller
 * size down to `minSize`, else ellipsised at `minSize`. For amounts, which
 * must print whole rather than wrap or lose digits while there is any way to
 * fit them.
 */
export function fitLine(text: string, style: TextStyle, maxWidth: number, minSize: number): TextBlock {
  const natural = measureText(text, style);
  if (natural <= maxWidth || style.size <= minSize) return layoutText(text, style, maxWidth, 1);
  const size = Math.max(minSize, Math.floor(((style.size * maxWidth) / natural) * 10) / 10);
  return layoutText(text, { ...style, size }, maxWidth, 1);
}

/** Where a block sits in its box. */
export type Align = 'left' | 'right' | 'center';

/** How to draw a block: its box's left edge and width, alignment and colour. */
export interface DrawOptions {
  x: number;
  y: number;
  width: number;
  align?: Align;
  color?: string;
  /**
   * What text extraction should read for the whole block, when its glyphs
   * alone would mislead it (the rotated stamp comes out letter by letter).
   */
  actualText?: string;
}

/** A number as content-stream text: at most three decimals, never an exponent. */
function num(value: number): string {
  const rounded = Math.round(value * 1000) / 1000;
  return Object.is(rounded, -0) ? '0' : String(rounded);
}

/** A PDF text string as UTF-16BE hex with its byte-order mark (any script, no escaping). */
function hexTextString(text: string): string {
  let hex = 'FEFF';
  for (let index = 0; index < text.length; index++) {
    hex += text.charCodeAt(index).toString(16).toUpperCase().padStart(4, '0');
  }
  return `<${hex}>`;
}

/**
 * A document being drawn: the pdfkit document, its four faces, and the code
 * points that had no glyph.
 */
export class Canvas {
  readonly doc: PDFKit.PDFDocument;
  readonly missing = new Set<number>();
  private readonly fonts: Record<Face, DocumentFont>;

  constructor(doc: PDFKit.PDFDocument, fonts: Record<Face, DocumentFont>) {
    this.doc = doc;
    this.fonts = fonts;
  }

  /**
   * Draws a block: each line on one baseline, each segment in its face
   * starting where the previous one ended. The text operators are written
   * here rather than through pdfkit's text(), for one reason: Devanagari
   * segments are wrapped in a marked-content span whose ActualText is the
   * text itself (shaping draws the vowel sign ि before its consonant and the
   * reph after it, so text extraction from glyphs alone would give them back
   * in visual order), and pdfkit's text() puts its own q…cm…Q around every
   * fragment, which would leave the span's end under a different matrix than
   * its glyphs (poppler then places the ActualText at the mirrored height).
   * Here span, text object and matrix nest properly. The glyphs still come
   * from pdfkit's font encoder, so subsetting, widths and the ToUnicode map
   * are pdfkit's own.
   */
  draw(block: TextBlock, options: DrawOptions): number {
    const { doc } = this;
    for (const codePoint of block.missing) this.missing.add(codePoint);
    const pageFonts = doc.page.fonts as Record<string, unknown>;
    const scale = block.size / 1000;
    // In PDF's own y-up space: pdfkit's pages are flipped to y-down.
    const ops: string[] = [`q 1 0 0 -1 0 ${num(doc.page.height)} cm`];
    const whole = options.actualText !== undefined;
    if (whole) ops.push(`/Span <</ActualText ${hexTextString(options.actualText!)}>> BDC`);
    ops.push('BT');
    let currentFont: DocumentFont | undefined;
    block.lines.forEach((line, index) => {
      const baseline = doc.page.height - (options.y + index * block.lineHeight + block.size * BASELINE);
      let x = options.x;
      if (options.align === 'right') x += options.width - line.width;
      else if (options.align === 'center') x += (options.width - line.width) / 2;
      for (const segment of line.segments) {
        const font = this.fonts[segment.face];
        if (font !== currentFont) {
          pageFonts[font.id] ??= font.ref();
          ops.push(`/${font.id} ${num(block.size)} Tf`);
          currentFont = font;
        }
        const devanagari = !whole && (segment.face === 'deva' || segment.face === 'deva-bold');
        if (devanagari) ops.push(`/Span <</ActualText ${hexTextString(segment.text)}>> BDC`);
        // Shaped already when the block was laid out, unless the cache has started over since.
        advanceOf(segment.face, segment.text);
        const [glyphs, positions] = font.encode(segment.text);
        x = this.showGlyphs(ops, glyphs, positions, x, baseline, scale);
        if (devanagari) ops.push('EMC');
      }
    });
    ops.push('ET');
    if (whole) ops.push('EMC');
    ops.push('Q');
    doc.fillColor(options.color ?? '#1f2328');
    doc.addContent(ops.join('\n'));
    return block.height;
  }

  /**
   * Glyphs from (x, y) on: runs of them in one TJ with the advance
   * adjustments kerning asks for; a glyph the font offsets (a mark placed
   * over or under its base) by its own text matrix. Returns the x after.
   */
  private showGlyphs(
    ops: string[],
    glyphs: readonly string[],
    positions: readonly GlyphPosition[],
    x: number,
    y: number,
    scale: number,
  ): number {
    let pen = x;
    let pending: string[] = [];
    let hex = '';
    let moved = false;
    const flush = () => {
      if (hex) pending.push(`<${hex}>`);
      if (pending.length > 0) ops.push(`[${pending.join(' ')}] TJ`);
      pending = [];
      hex = '';
    };
    glyphs.forEach((glyph, index) => {
      const position = positions[index]!;
      if (position.xOffset !== 0 || position.yOffset !== 0) {
        flush();
        ops.push(`1 0 0 1 ${num(pen + position.xOffset * scale)} ${num(y + position.yOffset * scale)} Tm`);
        ops.push(`<${glyph}> Tj`);
        moved = false;
      } else {
        if (!moved) {
          flush();
          ops.push(`1 0 0 1 ${num(pen)} ${num(y)} Tm`);
          moved = true;
        }
        hex += glyph;
        const extra = position.xAdvance - position.advanceWidth;
        if (Math.abs(extra) > 1e-9) {
          pending.push(`<${hex}>`, num(-extra));
          hex = '';
        }
      }
      pen += position.xAdvance * scale;
    });
    flush();
    return pen;
  }

  /** Lays out and draws in one go; returns the height used. */
  text(text: string, style: TextStyle, options: DrawOptions & { maxLines?: number }): number {
    return this.draw(layoutText(text, style, options.width, options.maxLines), options);
  }
}
