/**
 * Which characters of the ones invoices print most (printable ASCII, Latin-1,
 * the no-break spaces and currency signs that `Intl.NumberFormat` writes) a
 * font shapes "plainly": on a string made
 * only of such characters, no OpenType lookup fontkit applies by default can
 * fire except pair kerning (GPOS lookup type 2). On such a string fontkit's
 * result is each character's own glyph and advance, plus, for each adjacent
 * pair, the adjustment that pair gets when shaped alone — so a new string of
 * them (a pay link, an invoice number, an amount) can be put together from
 * cached pieces instead of being run through the whole shaper.
 *
 * The analysis reads the font's GSUB and GPOS tables as fontkit parsed them.
 * A lookup is "able to fire" on these characters when every position its
 * rule needs (backtrack, input, lookahead; a ligature's components) can be
 * matched by one of their glyphs; the characters whose glyphs start such a
 * lookup are not plain. Where a rule's shape is not read here (class-based
 * contexts, reverse chaining) every glyph of theirs it covers counts as not
 * plain. So the answer errs only on the side of shaping in full; the test
 * checks it against fontkit on random strings.
 */

/** The features fontkit's default shaper applies to left-to-right text (fontkit 2.0, pinned through pdfkit). */
const DEFAULT_FEATURES = new Set([
  'rvrn',
  'ltra',
  'ltrm',
  'ccmp',
  'locl',
  'rlig',
  'mark',
  'mkmk',
  'calt',
  'clig',
  'liga',
  'rclt',
  'curs',
  'kern',
]);

/** A parsed OpenType table, as far as this module reads it (restructure arrays may be lazy). */
type Parsed = Record<string, unknown>;

interface LayoutTable {
  scriptList: unknown;
  featureList: unknown;
  lookupList: unknown;
}

/**
 * The scripts fontkit reads a string of these characters in: Latin where it
 * has a letter, else none it finds, so its defaults (DFLT, dflt, latn).
 */
const SCRIPTS = new Set(['latn', 'DFLT', 'dflt']);

/**
 * The features fontkit can apply to these characters: those of the default
 * language of each of {@link SCRIPTS} (fontkit is given no language, so a
 * language's own forms, Catalan's l·l, never apply); every feature when the
 * font has none of these scripts.
 */
function reachableFeatures(table: LayoutTable): number[] {
  const features = new Set<number>();
  for (const entry of list(table.scriptList)) {
    if (!SCRIPTS.has(entry.tag as string)) continue;
    const defaultLangSys = (entry.script as Parsed | undefined)?.defaultLangSys as Parsed | undefined;
    for (const index of list(defaultLangSys?.featureIndexes) as unknown as number[]) features.add(index);
  }
  return features.size ? [...features] : list(table.featureList).map((_, index) => index);
}

export interface AnalysedFont {
  readonly GSUB?: LayoutTable;
  readonly GPOS?: LayoutTable;
  glyphForCodePoint(codePoint: number): { id: number };
}

function list(value: unknown): Parsed[] {
  if (value == null) return [];
  if (Array.isArray(value)) return value as Parsed[];
  const lazy = value as { toArray?: () => Parsed[] };
  return typeof lazy.toArray === 'function' ? lazy.toArray() : [value as Parsed];
}

/** The glyph ids of an OpenType coverage table. */
function coverage(table: unknown): number[] {
  const parsed = table as { version?: number; glyphs?: unknown; rangeRecords?: unknown } | undefined;
  if (!parsed) return [];
  if (parsed.version === 1) return list(parsed.glyphs) as unknown as number[];
  const glyphs: number[] = [];
  if (parsed.version === 2) {
    for (const range of list(parsed.rangeRecords) as unknown as { start: number; end: number }[]) {
      for (let glyph = range.start; glyph <= range.end; glyph++) glyphs.push(glyph);
    }
  }
  return glyphs;
}

/** The characters considered, by code point: never a control or default-ignorable one (fontkit hides those). */
export const CANDIDATES: readonly number[] = [
  ...range(0x20, 0x7e),
  ...range(0xa0, 0xff).filter((code) => code !== 0xad),
  0x202f,
  ...range(0x20a0, 0x20c0),
];

/** One past the largest candidate: the length of {@link plainCharacters}' table. */
export const CANDIDATE_LIMIT = 0x20c1;

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

/** Whether fontkit detects a string holding this candidate as Latin script (the rest are Common). */
export function isLatinLetter(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0xaa ||
    code === 0xba ||
    (code >= 0xc0 && code <= 0xff && code !== 0xd7 && code !== 0xf7)
  );
}

/**
 * A glyph of `candidates` that can start a lookup on a string of candidate
 * glyphs; with `ligature`, only where these glyphs follow it.
 */
interface Trigger {
  glyph: number;
  ligature?: number[];
}

/**
 * The triggers of this subtable. `tableName` is GSUB or GPOS; `type` the
 * lookup type after unwrapping extensions.
 */
function triggers(
  tableName: 'GSUB' | 'GPOS',
  type: number,
  subtable: Parsed,
  candidates: Set<number>,
): Trigger[] {
  const covered = (glyphs: number[]) =>
    glyphs.filter((glyph) => candidates.has(glyph)).map((glyph): Trigger => ({ glyph }));
  const allCandidates = (glyphs: unknown) =>
    (list(glyphs) as unknown as number[]).every((glyph) => candidates.has(glyph));
  const context = tableName === 'GSUB' ? type === 5 || type === 6 : type === 7 || type === 8;
  if (tableName === 'GPOS' && type === 2) return [];
  if (tableName === 'GPOS' && (type === 4 || type === 5)) return covered(coverage(subtable.markCoverage));
  if (tableName === 'GPOS' && type === 6) return covered(coverage(subtable.mark1Coverage));
  if (tableName === 'GSUB' && type === 4) {
    // Ligatures: a set per covered first glyph; each ligature lists its other components.
    const sets = list(subtable.ligatureSets);
    return coverage(subtable.coverage).flatMap((glyph, index) =>
      candidates.has(glyph)
        ? list(sets[index])
            .filter((ligature) => allCandidates(ligature.components))
            .map((ligature): Trigger => ({
              glyph,
              ligature: list(ligature.components) as unknown as number[],
            }))
        : [],
    );
  }
  if (context && subtable.version === 3) {
    const input = list(subtable.inputCoverage ?? subtable.coverages);
    const every = [...list(subtable.backtrackCoverage), ...input, ...list(subtable.lookaheadCoverage)];
    const possible = every.every((table) => coverage(table).some((glyph) => candidates.has(glyph)));
    return possible ? covered(coverage(input[0])) : [];
  }
  if (context && subtable.version === 1) {
    // Glyph-sequence rules, a set per covered first glyph.
    const sets = list(subtable.chainRuleSets ?? subtable.ruleSets);
    return coverage(subtable.coverage)
      .filter(
        (glyph, index) =>
          candidates.has(glyph) &&
          list(sets[index]).some(
            (rule) =>
              allCandidates(rule.backtrack) && allCandidates(rule.input) && allCandidates(rule.lookahead),
          ),
      )
      .map((glyph): Trigger => ({ glyph }));
  }
  return covered(coverage(subtable.coverage));
}

/** What {@link plainCharacters} found. */
export interface PlainCharacters {
  /**
   * By code point below {@link CANDIDATE_LIMIT}: 1 where the character is a
   * candidate the font has a glyph for and shapes plainly; 2 where it does so
   * unless one of its {@link ligatures} follows it (an f, unless an i or an l
   * comes next); 0 otherwise.
   */
  table: Uint8Array;
  /** By first glyph: the glyphs after it that make a ligature with it. */
  ligatures: Map<number, number[][]>;
}

export function plainCharacters(font: AnalysedFont): PlainCharacters {
  const glyphOf = new Map<number, number>();
  for (const code of CANDIDATES) glyphOf.set(code, font.glyphForCodePoint(code).id);
  const candidates = new Set([...glyphOf.values()].filter((glyph) => glyph !== 0));
  const notPlain = new Set<number>();
  const ligatures = new Map<number, number[][]>();
  for (const tableName of ['GSUB', 'GPOS'] as const) {
    const table = font[tableName];
    if (!table) continue;
    const features = list(table.featureList);
    const indexes = new Set<number>();
    for (const featureIndex of reachableFeatures(table)) {
      const feature = features[featureIndex]!;
      if (!DEFAULT_FEATURES.has(feature.tag as string)) continue;
      for (const index of list((feature.feature as Parsed).lookupListIndexes) as unknown as number[])
        indexes.add(index);
    }
    const lookups = list(table.lookupList);
    const extension = tableName === 'GSUB' ? 7 : 9;
    for (const index of indexes) {
      const lookup = lookups[index]!;
      for (const wrapped of list(lookup.subTables)) {
        const unwrap = lookup.lookupType === extension;
        const type = (unwrap ? wrapped.lookupType : lookup.lookupType) as number;
        const subtable = (unwrap ? wrapped.extension : wrapped) as Parsed;
        for (const { glyph, ligature } of triggers(tableName, type, subtable, candidates)) {
          if (!ligature) notPlain.add(glyph);
          else ligatures.set(glyph, [...(ligatures.get(glyph) ?? []), ligature]);
        }
      }
    }
  }
  const table = new Uint8Array(CANDIDATE_LIMIT);
  for (const [code, glyph] of glyphOf) {
    if (glyph !== 0 && !notPlain.has(glyph)) table[code] = ligatures.has(glyph) ? 2 : 1;
  }
  return { table, ligatures };
}
