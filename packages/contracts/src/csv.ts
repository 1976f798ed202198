/**
 * One CSV cell (RFC 4180). A value a spreadsheet would run as a formula
 * (starting `=`, `+`, `-`, `@`, or a tab or carriage return that some
 * spreadsheets skip before looking) gets a leading `'`, so a guardian named
 * `=HYPERLINK(…)` stays text when staff open the export. A plain decimal
 * number (`-12.50`, a refund in an export) is a number, not a formula, and is
 * written as it is.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  if (/^-?\d+(\.\d+)?$/.test(value)) return value;
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One CSV line (CRLF-terminated, as RFC 4180 has it) from its cells. */
export function csvLine(cells: (string | number | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
