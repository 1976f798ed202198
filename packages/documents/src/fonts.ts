import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  CANDIDATE_LIMIT,
  isLatinLetter,
  plainCharacters as analyse,
  type AnalysedFont,
  type PlainCharacters,
} from './plain-glyphs.js';

const require = createRequire(import.meta.url);

/**
 * A typeface the documents print with: Noto Sans for Latin (and every script
 * other than Devanagari, as far as it has glyphs), Noto Sans Devanagari for
 * Devanagari, each in regular and bold.
 */
export type Face = 'sans' | 'sans-bold' | 'deva' | 'deva-bold';

/** Every face, in the order each document opens them (so font ids and subset tags are fixed). */
export const FACES: readonly Face[] = ['sans', 'sans-bold', 'deva', 'deva-bold'];

/** The font files, by package path. */
export const FONT_FILES: Record<Face, string> = {
  sans: '@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf',
  'sans-bold': '@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf',
  deva: '@expo-google-fonts/noto-sans-devanagari/400Regular/NotoSansDevanagari_400Regular.ttf',
  'deva-bold': '@expo-google-fonts/noto-sans-devanagari/700Bold/NotoSansDevanagari_700Bold.ttf',
};

/** A glyph's placement, in 1/1000 em, as pdfkit's font encoder returns it. */
export interface GlyphPosition {
  xAdvance: number;
  yAdvance: number;
  xOffset: number;
  yOffset: number;
  advanceWidth: number;
}

/** The part of a fontkit glyph pdfkit reads: its id, advance and the code points it stands for. */
interface FontkitGlyph {
  readonly id: number;
  readonly advanceWidth: number;
  readonly codePoints: number[];
}

/** A glyph's placement in font units, as fontkit's layout returns it. */
type UnitPosition = Omit<GlyphPosition, 'advanceWidth'>;

/** The part of a fontkit font this package and pdfkit's EmbeddedFont use. */
interface FontkitFont extends AnalysedFont {
  readonly unitsPerEm: number;
  layout(
    text: string,
    features?: string[],
    script?: string,
  ): { glyphs: FontkitGlyph[]; positions: UnitPosition[]; script: string };
  hasGlyphForCodePoint(codePoint: number): boolean;
}

/** A font view whose glyph cache can be replaced (see {@link viewOf}). */
type FontView = FontkitFont & { _glyphs: Record<number, FontkitGlyph> };

interface Fontkit {
  create(buffer: Uint8Array): FontkitFont;
}

/**
 * A shaped piece of text, in the form pdfkit's EmbeddedFont keeps in its
 * layout cache: positions already in 1/1000 em, each with its glyph's
 * advance. Never modified once made.
 */
interface ShapedRun {
  glyphs: FontkitGlyph[];
  positions: GlyphPosition[];
  advanceWidth: number;
}

interface LoadedFace {
  /** Parsed once per process; never laid out directly. */
  base: FontkitFont;
  /** The one view every piece is shaped with (its glyph cache emptied before each). */
  shaper: FontView;
  /** Font units to pdfkit's 1/1000 em. */
  scale: number;
  /** Shaped pieces by text; a null-prototype object because it is also pdfkit's cache prototype. */
  runs: Record<string, ShapedRun>;
  count: number;
  /** The characters this face shapes plainly (see plain-glyphs.ts). */
  plain: PlainCharacters;
  /**
   * What shaping a pair of plain characters alone adds to each glyph's
   * placement, in font units ([x advance, y advance, x offset, y offset] of
   * the first, then of the second), by script and pair; null where the pair
   * does not shape as its two glyphs.
   */
  pairs: Map<string, Int32Array | null>;
  /** The script fontkit gives a string with no letters (digits, punctuation, currency signs). */
  commonScript: string;
  /** What each glyph adds to a font subset (see {@link documentView}). */
  subsetGlyphs: Map<number, SubsetGlyph>;
}

/** Pieces kept per face before the cache starts over (a bound on memory, not a tuning knob). */
const MAX_CACHED_PIECES = 50_000;

let loaded: Record<Face, LoadedFace> | undefined;

/**
 * The fontkit pdfkit itself depends on, resolved from pdfkit's own location
 * (it is pdfkit's dependency, not ours, and must be the version pdfkit was
 * built against).
 */
function loadFontkit(): Fontkit {
  return createRequire(require.resolve('pdfkit'))('fontkit') as Fontkit;
}

/**
 * A view of a parsed font with a glyph cache of its own. It inherits the
 * parsed tables (cmap, GSUB, GPOS, hmtx, loca, glyf: the expensive part,
 * decoded once per process) through the prototype; its own `_glyphs` and its
 * lazily built layout engine (fontkit's `@cache` getters define their value
 * on the object they are read from) stay its own. Everything fontkit does is
 * synchronous, so the shared stream position is never used by two callers
 * at once.
 */
function viewOf(base: FontkitFont): FontView {
  const view = Object.create(base) as FontView;
  view._glyphs = {};
  return view;
}

/** What a glyph adds to a document's font subset, the same in every document (see {@link documentView}). */
interface SubsetGlyph {
  /** Its `glyf` entry as stored in the font. */
  bytes: Uint8Array;
  /** A compound glyph's components: the glyph each names and where in `bytes` its id sits. */
  components: { glyphID: number; pos: number }[] | null;
  advance: number;
  bearing: number;
}

/** The part of fontkit's TrueType subset (TTFSubset, fontkit 2.0) the subset cache works with. */
interface TrueTypeSubset {
  glyf: Uint8Array[];
  loca: { offsets: number[] };
  hmtx: { metrics: { advance: number; bearing: number }[] };
  offset: number;
  includeGlyph(glyph: number): number;
  _addGlyph(glyph: number): number;
  encode(): Uint8Array;
}

interface DecodedGlyph {
  _decode(): { numberOfContours: number; components?: { glyphID: number; pos: number }[] } | null;
  _getMetrics(): { leftBearing: number };
  advanceWidth: number;
}

type SubsetFont = FontView & {
  createSubset(): TrueTypeSubset;
  getGlyph(id: number): DecodedGlyph;
  loca: { offsets: number[] };
  _getTableStream(tag: 'glyf'): { pos: number; readBuffer(length: number): Uint8Array };
  _variationProcessor?: unknown;
};

/** How fontkit's TTFSubset adds a glyph, read once per glyph per process. */
function subsetGlyphOf(font: SubsetFont, glyphId: number): SubsetGlyph {
  const glyph = font.getGlyph(glyphId);
  const decoded = glyph._decode();
  const start = font.loca.offsets[glyphId]!;
  const stream = font._getTableStream('glyf');
  stream.pos += start;
  const bytes = Uint8Array.from(stream.readBuffer(font.loca.offsets[glyphId + 1]! - start));
  return {
    bytes,
    components:
      decoded && decoded.numberOfContours < 0
        ? (decoded.components ?? []).map(({ glyphID, pos }) => ({ glyphID, pos }))
        : null,
    advance: glyph.advanceWidth,
    bearing: glyph._getMetrics().leftBearing,
  };
}

/**
 * A document's view of a face ({@link viewOf}) whose font subset takes each
 * glyph's entry from the process's cache. fontkit's subset decodes every
 * glyph's outline again for every document only to learn whether it is a
 * compound one; what it then writes (the stored bytes, compound components
 * renumbered, the advance and bearing) depends on nothing but the glyph, so
 * it is read once per process and the bytes written are the same.
 */
function documentView(loadedFace: LoadedFace): FontView {
  const view = viewOf(loadedFace.base) as SubsetFont;
  if (view._variationProcessor) return view;
  const createSubset = view.createSubset.bind(view);
  view.createSubset = () => {
    const subset = createSubset();
    if (typeof subset._addGlyph !== 'function') return subset;
    subset._addGlyph = function addGlyph(this: TrueTypeSubset, glyphId: number): number {
      let entry = loadedFace.subsetGlyphs.get(glyphId);
      if (!entry) {
        entry = subsetGlyphOf(view, glyphId);
        loadedFace.subsetGlyphs.set(glyphId, entry);
      }
      let bytes = entry.bytes;
      if (entry.components) {
        bytes = Uint8Array.from(entry.bytes);
        const data = new DataView(bytes.buffer);
        for (const component of entry.components)
          data.setUint16(component.pos, this.includeGlyph(component.glyphID));
      }
      this.glyf.push(bytes);
      this.loca.offsets.push(this.offset);
      this.hmtx.metrics.push({ advance: entry.advance, bearing: entry.bearing });
      this.offset += bytes.length;
      return this.glyf.length - 1;
    };
    return subset;
  };
  return view;
}

function faces(): Record<Face, LoadedFace> {
  if (!loaded) {
    const fontkit = loadFontkit();
    const entries = FACES.map((face): [Face, LoadedFace] => {
      const base = fontkit.create(readFileSync(require.resolve(FONT_FILES[face])));
      const shaper = viewOf(base);
      return [
        face,
        {
          base,
          shaper,
          scale: 1000 / base.unitsPerEm,
          runs: Object.create(null),
          count: 0,
          plain: analyse(base),
          pairs: new Map(),
          // The shaper, not the base: the layout engine is made on, and bound to, the first font laid out.
          commonScript: shaper.layout('0').script,
          subsetGlyphs: new Map(),
        },
      ];
    });
    loaded = Object.fromEntries(entries) as Record<Face, LoadedFace>;
  }
  return loaded;
}

/** A run in pdfkit's form from glyphs and their placements in font units. */
function runOf(glyphs: FontkitGlyph[], positions: UnitPosition[], scale: number): ShapedRun {
  let advanceWidth = 0;
  const scaled = positions.map((position, index): GlyphPosition => {
    advanceWidth += position.xAdvance * scale;
    return {
      xAdvance: position.xAdvance * scale,
      yAdvance: position.yAdvance * scale,
      xOffset: position.xOffset * scale,
      yOffset: position.yOffset * scale,
      advanceWidth: glyphs[index]!.advanceWidth * scale,
    };
  });
  return { glyphs, positions: scaled, advanceWidth };
}

/** Whether every character of `piece` is one `face` shapes plainly. */
function isPlain(loadedFace: LoadedFace, piece: string): boolean {
  for (let index = 0; index < piece.length; index++) {
    const code = piece.charCodeAt(index);
    if (code >= CANDIDATE_LIMIT || loadedFace.plain.table[code] === 0) return false;
  }
  return true;
}

/** See {@link LoadedFace.pairs}. */
function pairAdjustment(loadedFace: LoadedFace, script: string, pair: string): Int32Array | null {
  const key = script + pair;
  let adjustment = loadedFace.pairs.get(key);
  if (adjustment === undefined) {
    const { shaper } = loadedFace;
    shaper._glyphs = {};
    const laidOut = shaper.layout(pair, [], script);
    const [first, second] = [
      shapePiece(loadedFace, pair[0]!).glyphs,
      shapePiece(loadedFace, pair[1]!).glyphs,
    ];
    adjustment = null;
    if (
      laidOut.glyphs.length === 2 &&
      first.length === 1 &&
      second.length === 1 &&
      laidOut.glyphs[0]!.id === first[0]!.id &&
      laidOut.glyphs[1]!.id === second[0]!.id
    ) {
      const [a, b] = laidOut.positions as [UnitPosition, UnitPosition];
      adjustment = Int32Array.of(
        a.xAdvance - first[0]!.advanceWidth,
        a.yAdvance,
        a.xOffset,
        a.yOffset,
        b.xAdvance - second[0]!.advanceWidth,
        b.yAdvance,
        b.xOffset,
        b.yOffset,
      );
    }
    loadedFace.pairs.set(key, adjustment);
  }
  return adjustment;
}

/**
 * A plain piece put together from its characters' own glyphs (each shaped
 * once, carrying its own code point) and each adjacent pair's kerning,
 * exactly as fontkit would shape it whole; undefined where a ligature forms
 * or a pair does not shape as its two glyphs (the piece is then shaped in full).
 */
function composePlain(loadedFace: LoadedFace, piece: string): ShapedRun | undefined {
  let script = loadedFace.commonScript;
  for (let index = 0; index < piece.length; index++) {
    if (isLatinLetter(piece.charCodeAt(index))) {
      script = 'latn';
      break;
    }
  }
  const glyphs: FontkitGlyph[] = [];
  const positions: UnitPosition[] = [];
  for (let index = 0; index < piece.length; index++) {
    const glyph = shapePiece(loadedFace, piece[index]!).glyphs[0]!;
    glyphs.push(glyph);
    positions.push({ xAdvance: glyph.advanceWidth, yAdvance: 0, xOffset: 0, yOffset: 0 });
  }
  const { table, ligatures } = loadedFace.plain;
  for (let index = 0; index < piece.length; index++) {
    if (table[piece.charCodeAt(index)] !== 2) continue;
    const follows = (components: number[]) =>
      components.every((glyph, offset) => glyphs[index + 1 + offset]?.id === glyph);
    if (ligatures.get(glyphs[index]!.id)!.some(follows)) return undefined;
  }
  for (let index = 0; index + 1 < piece.length; index++) {
    const adjustment = pairAdjustment(loadedFace, script, piece.slice(index, index + 2));
    if (!adjustment) return undefined;
    const [a, b] = [positions[index]!, positions[index + 1]!];
    a.xAdvance += adjustment[0]!;
    a.yAdvance += adjustment[1]!;
    a.xOffset += adjustment[2]!;
    a.yOffset += adjustment[3]!;
    b.xAdvance += adjustment[4]!;
    b.yAdvance += adjustment[5]!;
    b.xOffset += adjustment[6]!;
    b.yOffset += adjustment[7]!;
  }
  return runOf(glyphs, positions, loadedFace.scale);
}

/**
 * Shapes a piece once per process. fontkit keeps one Glyph object per glyph
 * id per font and stores on it the code points it was first reached from;
 * pdfkit writes those into the document's ToUnicode map. So the shaper's
 * glyph cache is emptied before each piece: a piece's glyphs then carry the
 * code points of that piece, whatever was shaped before it, and a document's
 * text layer depends on nothing but the document (the same as if pdfkit had
 * shaped it with a font of its own). A piece of plain characters longer than
 * one is put together from cached parts instead (see {@link composePlain}):
 * a pay link or an invoice number is new in every document, and shaping it
 * in full costs more than the rest of the page.
 */
function shapePiece(loadedFace: LoadedFace, piece: string): ShapedRun {
  let run = loadedFace.runs[piece];
  if (!run) {
    run = piece.length > 1 && isPlain(loadedFace, piece) ? composePlain(loadedFace, piece) : undefined;
    if (!run) {
      const { shaper, scale } = loadedFace;
      shaper._glyphs = {};
      const laidOut = shaper.layout(piece);
      run = runOf(laidOut.glyphs, laidOut.positions, scale);
    }
    if (loadedFace.count >= MAX_CACHED_PIECES) {
      // Documents opened before keep the old object as their cache's prototype; they still work.
      loadedFace.runs = Object.create(null);
      loadedFace.count = 0;
    }
    loadedFace.runs[piece] = run;
    loadedFace.count++;
  }
  return run;
}

/**
 * Shapes `text` in `face` and returns its advance in 1/1000 em, exactly as
 * pdfkit will draw it: pdfkit shapes a string piece by piece, each piece
 * running up to and including a space or tab, and the same pieces are shaped
 * and cached here, so what was measured is what is drawn.
 */
export function advanceOf(face: Face, text: string): number {
  const loadedFace = faces()[face];
  let total = 0;
  let last = 0;
  for (let index = 0; index <= text.length; index++) {
    const atEnd = index === text.length;
    const char = text.charCodeAt(index);
    if ((atEnd && last < index) || char === 32 || char === 9) {
      total += shapePiece(loadedFace, text.slice(last, index + 1)).advanceWidth;
      last = index + 1;
    }
  }
  return total;
}

/**
 * How `face` shapes a piece, from the process's cache (for tests that hold
 * it against fontkit's own layout), and the characters it shapes plainly.
 */
export function shapedPiece(face: Face, piece: string): Readonly<ShapedRun> {
  return shapePiece(faces()[face], piece);
}

export function plainCharactersOf(face: Face): string {
  const { table } = faces()[face].plain;
  return String.fromCharCode(...[...table.keys()].filter((code) => table[code] !== 0));
}

/**
 * The font subset a document printing `text` in `face` embeds, made with the
 * subset cache or by fontkit alone (for the test that they are the same bytes).
 */
export function subsetFor(face: Face, text: string, cached: boolean): Uint8Array {
  const loadedFace = faces()[face];
  const view = (cached ? documentView(loadedFace) : viewOf(loadedFace.base)) as SubsetFont;
  const subset = view.createSubset();
  for (const glyph of view.layout(text).glyphs) subset.includeGlyph(glyph.id);
  return subset.encode();
}

/** Whether `face` has a glyph for the code point (its cmap, no shaping). */
export function faceHasGlyph(face: Face, codePoint: number): boolean {
  return faces()[face].base.hasGlyphForCodePoint(codePoint);
}

/** Parses the fonts now rather than in the first render (a worker can call it at start). */
export function preloadFonts(): void {
  faces();
}

/**
 * What this package uses of pdfkit's EmbeddedFont (pdfkit 0.20, pinned):
 * its resource name, its encoder (which adds the glyphs to the document's
 * subset and records their widths and code points), the reference to its
 * font dictionary for a page's resources, and its layout cache.
 */
export interface DocumentFont {
  readonly id: string;
  encode(text: string): [string[], GlyphPosition[]];
  ref(): unknown;
  layoutCache?: Record<string, ShapedRun>;
}

function isDocumentFont(value: unknown): value is DocumentFont {
  const font = value as Partial<DocumentFont> | null;
  return typeof font?.id === 'string' && typeof font.encode === 'function' && typeof font.ref === 'function';
}

/**
 * Registers the four faces on a new document and opens them in a fixed order,
 * so their ids (F1…F4), and so the subset tags pdfkit derives from them, are
 * the same whatever text the document prints first. A face the document never
 * prints is not embedded (pdfkit embeds only fonts a page refers to).
 *
 * Each face is a fresh view of the process's parsed font (pdfkit takes a
 * fontkit font wherever it takes font bytes): the document's subset reads
 * glyphs through it, with a glyph cache of its own. Its layout cache is given
 * the process's shaped pieces as prototype, so pdfkit finds every piece
 * {@link advanceOf} shaped and shapes nothing itself; a piece it does not
 * find it shapes with the document's own view, which gives the same glyphs
 * and code points.
 */
export function registerFaces(doc: PDFKit.PDFDocument): Record<Face, DocumentFont> {
  const all = faces();
  const opened = {} as Record<Face, DocumentFont>;
  for (const face of FACES) {
    doc.registerFont(face, documentView(all[face]) as unknown as Buffer);
    doc.font(face);
    const font = (doc as unknown as { _font: unknown })._font;
    if (!isDocumentFont(font)) {
      throw new Error('pdfkit no longer opens fonts as this package expects (see fonts.ts)');
    }
    if (font.layoutCache && typeof font.layoutCache === 'object') {
      font.layoutCache = Object.create(all[face].runs) as Record<string, ShapedRun>;
    }
    opened[face] = font;
  }
  return opened;
}
