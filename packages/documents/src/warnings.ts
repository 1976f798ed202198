/** Code points named in a warning before the rest are only counted. */
const LISTED = 12;

/**
 * The warning for characters neither embedded face has a glyph for (a script
 * other than Latin or Devanagari, say Tamil or Arabic): they print as boxes,
 * and whoever reads the log should know which.
 */
export function missingGlyphWarning(missing: ReadonlySet<number>): string | null {
  if (missing.size === 0) return null;
  const sorted = [...missing].sort((a, b) => a - b);
  const named = sorted
    .slice(0, LISTED)
    .map(
      (codePoint) =>
        `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} ${String.fromCodePoint(codePoint)}`,
    );
  const more = sorted.length > LISTED ? ` and ${sorted.length - LISTED} more` : '';
  return `no glyph in the embedded fonts for ${named.join(', ')}${more}; they print as empty boxes`;
}
