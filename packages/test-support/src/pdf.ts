import { execFileSync } from 'node:child_process';

/**
 * The text of a PDF as poppler's `pdftotext -layout` reads it (`.ci/run`
 * installs poppler-utils), one page or all: tests check documents by what a
 * reader would see, not by their bytes.
 */
export function pdfText(pdf: Buffer, page?: number): string {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  return execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', ...range, '-', '-'], {
    input: pdf,
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
}

/** The page count `pdfinfo` reads from a PDF. */
export function pdfPageCount(pdf: Buffer): number {
  const info = execFileSync('pdfinfo', ['-'], { input: pdf }).toString('utf8');
  const match = /^Pages:\s+(\d+)/m.exec(info);
  if (!match) throw new Error(`pdfinfo did not report a page count:\n${info}`);
  return Number(match[1]);
}
