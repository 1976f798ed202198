/**
 * One CSV cell (RFC 4180). A value a spreadsheet would run as a formula
 * (starting `=`, `+`, `-`, `@`, or a tab or carriage return that some
 * spreadsheets skip before looking) gets a leading `'`, so a guardian named
 * `=HYPERLINK(…)` stays text when staff open the export.
 */
export function csvCell(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One CSV line (CRLF-terminated, as RFC 4180 has it) from its cells. */
export function csvLine(cells: (string | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
