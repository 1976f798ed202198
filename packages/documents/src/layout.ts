import type { SchoolHeader } from './model.js';
import { prepareLogo } from './logo.js';
import { PAGE } from './pdf.js';
import { layoutText, type Canvas } from './text.js';

/** Page margin on every side. */
export const MARGIN = 42;
/** The width between the margins. */
export const CONTENT_WIDTH = PAGE.width - 2 * MARGIN;
/** Where the footer rule is drawn; the body stops above it. */
export const FOOTER_TOP = PAGE.height - MARGIN + 8;
/** The lowest y the body may reach. */
export const BODY_BOTTOM = FOOTER_TOP - 10;

/** The palette: ink, muted ink, rules, table header fill, accent. */
export const COLORS = {
  ink: '#1f2328',
  muted: '#59636e',
  rule: '#d0d7de',
  fill: '#f2f4f7',
  accent: '#0b4f8a',
} as const;

const LOGO_BOX = 56;

/** pdfkit's parsed image, before it is embedded. */
interface OpenedImage {
  width: number;
  height: number;
}

/** pdfkit's openImage(), which its types leave out: parse only, no PDF object written yet. */
interface ImageOpener {
  openImage(src: Buffer): OpenedImage;
}
const LOGO_GAP = 12;

/**
 * The logo drawn into the top-left corner when it can be: checked first (see
 * prepareLogo), then opened by pdfkit, which only parses (no object is
 * written), so a logo that still fails leaves the document untouched.
 * Returns whether it was drawn.
 */
function drawLogo(canvas: Canvas, logo: Buffer | null, warnings: string[]): boolean {
  if (logo === null) return false;
  const check = prepareLogo(logo);
  if (!check.ok) {
    warnings.push(`logo left out: ${check.reason}`);
    return false;
  }
  const doc = canvas.doc as PDFKit.PDFDocument & ImageOpener;
  let image: OpenedImage;
  try {
    image = doc.openImage(check.logo.image);
  } catch (error) {
    warnings.push(
      `logo left out: pdfkit could not read it (${error instanceof Error ? error.message : String(error)})`,
    );
    return false;
  }
  // pdfkit's image() takes what openImage() returned; its types list only sources.
  doc.image(image as unknown as Buffer, MARGIN, MARGIN, {
    fit: [LOGO_BOX, LOGO_BOX],
    align: 'center',
    valign: 'center',
  });
  return true;
}

/** A label and its value, as the header's right column and the receipt's details list them. */
export type Fact = readonly [label: string, value: string];

/**
 * The top of a document: logo, school name, address and contact on the left;
 * the document's title and its facts (number, dates) on the right. Returns
 * the y below it.
 */
export function drawSchoolHeader(
  canvas: Canvas,
  school: SchoolHeader,
  title: string,
  facts: readonly Fact[],
  warnings: string[],
): number {
  const hasLogo = drawLogo(canvas, school.logo, warnings);
  const leftX = hasLogo ? MARGIN + LOGO_BOX + LOGO_GAP : MARGIN;
  const rightWidth = CONTENT_WIDTH * 0.4;
  const rightX = MARGIN + CONTENT_WIDTH - rightWidth;
  const leftWidth = rightX - 16 - leftX;

  let left = MARGIN;
  left += canvas.text(
    school.name,
    { size: 15, bold: true },
    { x: leftX, y: left, width: leftWidth, maxLines: 2 },
  );
  left += 2;
  if (school.address) {
    left += canvas.text(
      school.address,
      { size: 8.5 },
      { x: leftX, y: left, width: leftWidth, maxLines: 4, color: COLORS.muted },
    );
  }
  const contact = [school.contactEmail, school.contactPhone].filter(Boolean).join('  ·  ');
  if (contact) {
    left += canvas.text(
      contact,
      { size: 8.5 },
      { x: leftX, y: left, width: leftWidth, maxLines: 2, color: COLORS.muted },
    );
  }

  let right = MARGIN - 3;
  right += canvas.text(
    title,
    { size: 18, bold: true },
    { x: rightX, y: right, width: rightWidth, align: 'right', maxLines: 1, color: COLORS.accent },
  );
  right += 4;
  right = drawFacts(canvas, facts, rightX, right, rightWidth, { labelWidth: 82, align: 'right' });

  const bottom = Math.max(left, right, hasLogo ? MARGIN + LOGO_BOX : 0) + 12;
  rule(canvas, MARGIN, bottom, CONTENT_WIDTH);
  return bottom + 14;
}

/**
 * Rows of label and value: the label muted on the left, the value beside it
 * (wrapping, up to three lines), aligned left or to the right edge. Returns
 * the y below the last row.
 */
export function drawFacts(
  canvas: Canvas,
  facts: readonly Fact[],
  x: number,
  y: number,
  width: number,
  options: { labelWidth: number; align: 'left' | 'right'; size?: number },
): number {
  const size = options.size ?? 8.5;
  const valueWidth = width - options.labelWidth - 6;
  for (const [label, value] of facts) {
    const labelBlock = layoutText(label, { size: size - 0.5 }, options.labelWidth, 2);
    const valueBlock = layoutText(value, { size, bold: true }, valueWidth, 3);
    canvas.draw(labelBlock, { x, y: y + 0.5, width: options.labelWidth, color: COLORS.muted });
    canvas.draw(valueBlock, { x: x + options.labelWidth + 6, y, width: valueWidth, align: options.align });
    y += Math.max(labelBlock.height, valueBlock.height) + 1.5;
  }
  return y;
}

/** A thin horizontal rule. */
export function rule(canvas: Canvas, x: number, y: number, width: number, color: string = COLORS.rule): void {
  canvas.doc
    .save()
    .moveTo(x, y)
    .lineTo(x + width, y)
    .lineWidth(0.6)
    .strokeColor(color)
    .stroke()
    .restore();
}

/**
 * The footer of every page: what the document is on the left (ellipsised to
 * its half), "Page N of M" on the right. Drawn once all pages exist.
 */
export function drawFooters(canvas: Canvas, left: string): number {
  const { doc } = canvas;
  const range = doc.bufferedPageRange();
  const total = range.start + range.count;
  const size = 7.5;
  const y = FOOTER_TOP + 6;
  for (let page = range.start; page < total; page++) {
    doc.switchToPage(page);
    rule(canvas, MARGIN, FOOTER_TOP, CONTENT_WIDTH);
    canvas.text(
      left,
      { size },
      { x: MARGIN, y, width: CONTENT_WIDTH * 0.7, maxLines: 1, color: COLORS.muted },
    );
    canvas.text(
      `Page ${page + 1} of ${total}`,
      { size },
      {
        x: MARGIN + CONTENT_WIDTH * 0.7,
        y,
        width: CONTENT_WIDTH * 0.3,
        align: 'right',
        maxLines: 1,
        color: COLORS.muted,
      },
    );
  }
  return total;
}

/** A small upper-case heading over a section ("BILL TO"). */
export function drawHeading(canvas: Canvas, text: string, x: number, y: number, width: number): number {
  return canvas.text(text, { size: 7.5, bold: true }, { x, y, width, maxLines: 1, color: COLORS.muted }) + 2;
}
