import { formatDay, formatQuantity, money } from './format.js';
import {
  BODY_BOTTOM,
  COLORS,
  CONTENT_WIDTH,
  MARGIN,
  drawFooters,
  drawHeading,
  drawSchoolHeader,
  rule,
} from './layout.js';
import type { InvoiceDocument, InvoiceDocumentLine, InvoiceStamp, RenderResult } from './model.js';
import { openPdf, pageCount, utcDate } from './pdf.js';
import { drawQr, qrMatrix, type QrMatrix } from './qr.js';
import { missingGlyphWarning } from './warnings.js';
import { fitLine, layoutText, lineHeightOf, type Canvas, type TextBlock } from './text.js';

/** Table columns: left edge and width; numbers are right-aligned. */
const PAD_X = 6;
const PAD_Y = 5;
const COLUMN_WIDTHS = { feeHead: 96, quantity: 36, unit: 86, amount: 92 };
const DESCRIPTION_WIDTH =
  CONTENT_WIDTH - COLUMN_WIDTHS.feeHead - COLUMN_WIDTHS.quantity - COLUMN_WIDTHS.unit - COLUMN_WIDTHS.amount;
const COLUMNS = (() => {
  const description = { x: MARGIN, width: DESCRIPTION_WIDTH };
  const feeHead = { x: description.x + description.width, width: COLUMN_WIDTHS.feeHead };
  const quantity = { x: feeHead.x + feeHead.width, width: COLUMN_WIDTHS.quantity };
  const unit = { x: quantity.x + quantity.width, width: COLUMN_WIDTHS.unit };
  const amount = { x: unit.x + unit.width, width: COLUMN_WIDTHS.amount };
  return { description, feeHead, quantity, unit, amount };
})();
type Column = keyof typeof COLUMNS;

const CELL_SIZE = 8.5;
const MIN_AMOUNT_SIZE = 6;
/** A description longer than this many lines is cut with an ellipsis, so a row always fits a page. */
const MAX_DESCRIPTION_LINES = 10;
const TABLE_HEADER: readonly [Column, string, 'left' | 'right'][] = [
  ['description', 'Description', 'left'],
  ['feeHead', 'Fee head', 'left'],
  ['quantity', 'Qty', 'right'],
  ['unit', 'Unit amount', 'right'],
  ['amount', 'Amount', 'right'],
];

/** Where the body starts on a continuation page (below its one-line header). */
const CONTINUATION_TOP = MARGIN + 34;
const GAP_BEFORE_FINAL = 16;

const STAMP_COLORS: Record<InvoiceStamp, string> = {
  PAID: '#1a7f37',
  PARTIAL: '#b35900',
  OVERDUE: '#cf222e',
  VOID: '#57606a',
};

function cellWidth(column: Column): number {
  return COLUMNS[column].width - 2 * PAD_X;
}

interface LaidOutRow {
  cells: [Column, TextBlock, 'left' | 'right', string][];
  height: number;
}

function layoutRow(line: InvoiceDocumentLine, school: InvoiceDocument['school']): LaidOutRow {
  const cells: LaidOutRow['cells'] = [
    [
      'description',
      layoutText(line.description, { size: CELL_SIZE }, cellWidth('description'), MAX_DESCRIPTION_LINES),
      'left',
      COLORS.ink,
    ],
    ['feeHead', layoutText(line.feeHead ?? '', { size: 8 }, cellWidth('feeHead'), 3), 'left', COLORS.muted],
    [
      'quantity',
      fitLine(
        formatQuantity(line.quantity, school.locale),
        { size: CELL_SIZE },
        cellWidth('quantity'),
        MIN_AMOUNT_SIZE,
      ),
      'right',
      COLORS.ink,
    ],
    [
      'unit',
      fitLine(money(line.unitAmountMinor, school), { size: CELL_SIZE }, cellWidth('unit'), MIN_AMOUNT_SIZE),
      'right',
      COLORS.ink,
    ],
    [
      'amount',
      fitLine(money(line.amountMinor, school), { size: CELL_SIZE }, cellWidth('amount'), MIN_AMOUNT_SIZE),
      'right',
      COLORS.ink,
    ],
  ];
  const height = Math.max(...cells.map(([, block]) => block.height)) + 2 * PAD_Y;
  return { cells, height };
}

function drawRow(canvas: Canvas, row: LaidOutRow, y: number): void {
  for (const [column, block, align, color] of row.cells) {
    const { x, width } = COLUMNS[column];
    canvas.draw(block, { x: x + PAD_X, y: y + PAD_Y, width: width - 2 * PAD_X, align, color });
  }
  rule(canvas, MARGIN, y + row.height, CONTENT_WIDTH, '#e6e9ed');
}

const HEADER_SIZE = 8;
const TABLE_HEADER_HEIGHT = 2 * PAD_Y + lineHeightOf(HEADER_SIZE);

function drawTableHeader(canvas: Canvas, y: number): number {
  canvas.doc.save().rect(MARGIN, y, CONTENT_WIDTH, TABLE_HEADER_HEIGHT).fill(COLORS.fill).restore();
  for (const [column, label, align] of TABLE_HEADER) {
    const { x, width } = COLUMNS[column];
    canvas.text(
      label,
      { size: HEADER_SIZE, bold: true },
      { x: x + PAD_X, y: y + PAD_Y, width: width - 2 * PAD_X, align, maxLines: 1, color: COLORS.muted },
    );
  }
  return y + TABLE_HEADER_HEIGHT;
}

/** Rows per page (indices into the lines); the last page also carries the totals. */
export type Pagination = number[][];

/**
 * Puts rows on pages: as many as fit, in order; then the closing block
 * (totals, pay link, notes) on the last page. When it does not fit under the
 * last row, the last row moves over with it, so no page holds the totals
 * under a table header with no rows (unless the page already had only one).
 * `first` and `rest` are the heights available to rows and the closing block
 * on the first and on later pages.
 */
export function paginate(
  heights: readonly number[],
  first: number,
  rest: number,
  closing: number,
): Pagination {
  const pages: number[][] = [[]];
  let available = first;
  heights.forEach((height, index) => {
    const page = pages[pages.length - 1]!;
    if (height > available && page.length > 0) {
      pages.push([index]);
      available = rest - height;
    } else {
      page.push(index);
      available -= height;
    }
  });
  if (closing > available) {
    const last = pages[pages.length - 1]!;
    if (last.length > 1) {
      pages.push([last.pop()!]);
    } else {
      pages.push([]);
    }
  }
  return pages;
}

/** The closing block: its height, and how to draw it at a y. */
interface Closing {
  height: number;
  draw(canvas: Canvas, y: number): void;
}

const TOTALS_WIDTH = 236;
const CLOSING_LEFT_WIDTH = CONTENT_WIDTH - TOTALS_WIDTH - 28;
const QR_SIDE = 88;

function layoutTotals(doc: InvoiceDocument): Closing {
  const { invoice, school } = doc;
  const rows: [string, bigint][] = [['Subtotal', invoice.subtotalMinor]];
  if (invoice.discountMinor !== 0n) rows.push(['Discount', -invoice.discountMinor]);
  rows.push(['Paid', -invoice.paidMinor]);
  if (invoice.refundedMinor !== 0n) rows.push(['Refunded', invoice.refundedMinor]);
  const x = MARGIN + CONTENT_WIDTH - TOTALS_WIDTH;
  const labelWidth = 100;
  const valueWidth = TOTALS_WIDTH - labelWidth - PAD_X;
  const laidOut = rows.map(
    ([label, amount]) =>
      [
        layoutText(label, { size: 9 }, labelWidth, 1),
        fitLine(money(amount, school), { size: 9 }, valueWidth, MIN_AMOUNT_SIZE),
      ] as const,
  );
  const balanceLabel = layoutText('Balance due', { size: 11, bold: true }, labelWidth, 1);
  const balance = fitLine(money(invoice.balanceMinor, school), { size: 11, bold: true }, valueWidth, 7);
  const rowsHeight = laidOut.reduce((sum, [label]) => sum + label.height + 2, 0);
  const height = rowsHeight + 8 + Math.max(balanceLabel.height, balance.height);
  return {
    height,
    draw(canvas, top) {
      let y = top;
      for (const [label, value] of laidOut) {
        canvas.draw(label, { x, y, width: labelWidth, color: COLORS.muted });
        canvas.draw(value, { x: x + labelWidth, y, width: valueWidth, align: 'right' });
        y += label.height + 2;
      }
      rule(canvas, x, y + 2, TOTALS_WIDTH, COLORS.ink);
      y += 6;
      canvas.draw(balanceLabel, { x, y, width: labelWidth });
      canvas.draw(balance, { x: x + labelWidth, y, width: valueWidth, align: 'right' });
    },
  };
}

/**
 * The pay link: its QR code with a title and a hint beside it, the link as
 * text below. A link QR cannot hold (over ~2 KB, never a real pay link) is
 * printed as text alone, and the render says so.
 */
function layoutPayLink(link: string, warnings: string[]): Closing {
  let matrix: QrMatrix | null = null;
  try {
    matrix = qrMatrix(link);
  } catch (error) {
    warnings.push(
      `pay link printed without its QR code: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const qrSide = matrix ? QR_SIDE : 0;
  const besideX = matrix ? MARGIN + QR_SIDE + 4 : MARGIN;
  const besideWidth = CLOSING_LEFT_WIDTH - (besideX - MARGIN) - 4;
  const title = layoutText('Pay online', { size: 9.5, bold: true }, besideWidth, 1);
  const hint = layoutText(
    matrix ? 'Scan the code with a phone camera, or open the link below.' : 'Open the link below.',
    { size: 8 },
    besideWidth,
    4,
  );
  const linkText = layoutText(link, { size: 7.5 }, CLOSING_LEFT_WIDTH, 3);
  const linkTop = matrix ? QR_SIDE + 2 : 4 + title.height + 2 + hint.height + 4;
  return {
    height: linkTop + linkText.height,
    draw(canvas, y) {
      if (matrix) {
        drawQr(canvas.doc, matrix, MARGIN - 4, y - 4, qrSide);
        canvas.doc.link(MARGIN, y, qrSide - 8, qrSide - 8, link);
      }
      canvas.draw(title, { x: besideX, y: y + 4, width: besideWidth });
      canvas.draw(hint, { x: besideX, y: y + 4 + title.height + 2, width: besideWidth, color: COLORS.muted });
      canvas.draw(linkText, { x: MARGIN, y: y + linkTop, width: CLOSING_LEFT_WIDTH, color: COLORS.accent });
      canvas.doc.link(MARGIN, y + linkTop, linkText.width, linkText.height, link);
    },
  };
}

function layoutPayAndNotes(doc: InvoiceDocument, warnings: string[]): Closing {
  const parts: Closing[] = [];
  if (doc.payLink) parts.push(layoutPayLink(doc.payLink, warnings));
  if (doc.invoice.notes) {
    const notes = layoutText(doc.invoice.notes, { size: 8.5 }, CLOSING_LEFT_WIDTH, 10);
    parts.push({
      height: 14 + notes.height,
      draw(canvas, y) {
        const top = y + drawHeading(canvas, 'NOTES', MARGIN, y, CLOSING_LEFT_WIDTH);
        canvas.draw(notes, { x: MARGIN, y: top, width: CLOSING_LEFT_WIDTH });
      },
    });
  }
  const gap = 12;
  return {
    height: parts.reduce((sum, part) => sum + part.height, 0) + gap * Math.max(0, parts.length - 1),
    draw(canvas, top) {
      let y = top;
      for (const part of parts) {
        part.draw(canvas, y);
        y += part.height + gap;
      }
    },
  };
}

function layoutClosing(doc: InvoiceDocument, warnings: string[]): Closing {
  const totals = layoutTotals(doc);
  const left = layoutPayAndNotes(doc, warnings);
  return {
    height: GAP_BEFORE_FINAL + Math.max(totals.height, left.height),
    draw(canvas, y) {
      totals.draw(canvas, y + GAP_BEFORE_FINAL);
      left.draw(canvas, y + GAP_BEFORE_FINAL);
    },
  };
}

/** The rotated stamp (PAID, PARTIAL, OVERDUE, VOID) centred on (cx, cy). */
function drawStamp(canvas: Canvas, stamp: InvoiceStamp, cx: number, cy: number): void {
  const color = STAMP_COLORS[stamp];
  const block = layoutText(stamp, { size: 22, bold: true }, 200, 1);
  const width = block.width + 24;
  const height = block.height + 8;
  const { doc } = canvas;
  doc.save();
  doc.rotate(-12, { origin: [cx, cy] });
  doc.fillOpacity(0.85).strokeOpacity(0.85);
  doc
    .roundedRect(cx - width / 2, cy - height / 2, width, height, 5)
    .lineWidth(2.4)
    .strokeColor(color)
    .stroke();
  canvas.draw(block, {
    x: cx - width / 2,
    y: cy - block.height / 2,
    width,
    align: 'center',
    color,
    actualText: stamp,
  });
  doc.restore();
}

/** Student, guardian and the stamp; returns the y below. */
function drawBillTo(canvas: Canvas, doc: InvoiceDocument, top: number): number {
  const width = CONTENT_WIDTH * 0.6;
  let y = top + drawHeading(canvas, 'BILL TO', MARGIN, top, width);
  y += canvas.text(doc.student.fullName, { size: 11.5, bold: true }, { x: MARGIN, y, width, maxLines: 2 });
  const details = [
    `Admission no. ${doc.student.admissionNo}`,
    doc.student.className ? `Class ${doc.student.className}` : null,
  ]
    .filter(Boolean)
    .join('  ·  ');
  y += canvas.text(details, { size: 8.5 }, { x: MARGIN, y, width, maxLines: 2, color: COLORS.muted });
  if (doc.guardian) {
    y += canvas.text(`Guardian: ${doc.guardian.name}`, { size: 8.5 }, { x: MARGIN, y, width, maxLines: 2 });
  }
  const stampHeight = 56;
  if (doc.invoice.stamp) {
    const stampX = MARGIN + width + (CONTENT_WIDTH - width) / 2;
    drawStamp(canvas, doc.invoice.stamp, stampX, top + stampHeight / 2);
  }
  y = Math.max(y, doc.invoice.stamp ? top + stampHeight : y);
  if (doc.invoice.stamp === 'VOID') {
    y += 6;
    const reason = doc.invoice.voidReason ? `Void: ${doc.invoice.voidReason}` : 'Void';
    y += canvas.text(
      reason,
      { size: 9, bold: true },
      {
        x: MARGIN,
        y,
        width: CONTENT_WIDTH,
        maxLines: 3,
        color: STAMP_COLORS.VOID,
      },
    );
  }
  return y + 14;
}

function drawContinuationHeader(canvas: Canvas, doc: InvoiceDocument): number {
  const half = CONTENT_WIDTH / 2;
  canvas.text(
    doc.school.name,
    { size: 10, bold: true },
    { x: MARGIN, y: MARGIN, width: half - 8, maxLines: 1 },
  );
  canvas.text(
    `Invoice ${doc.invoice.number} (continued)`,
    { size: 8.5 },
    { x: MARGIN + half, y: MARGIN + 1, width: half, align: 'right', maxLines: 1, color: COLORS.muted },
  );
  rule(canvas, MARGIN, MARGIN + 20, CONTENT_WIDTH);
  return CONTINUATION_TOP;
}

function drawEmptyTable(canvas: Canvas, y: number): number {
  const height = canvas.text(
    'This invoice has no lines.',
    { size: CELL_SIZE },
    { x: MARGIN + PAD_X, y: y + PAD_Y, width: CONTENT_WIDTH - 2 * PAD_X, maxLines: 1, color: COLORS.muted },
  );
  return y + height + 2 * PAD_Y;
}

/**
 * An invoice as an A4 PDF: the school's header, bill-to, the status stamp,
 * the lines in a table that flows over as many pages as it needs (header
 * row on each), the totals, pay link and QR code and notes on the last page,
 * and "Page N of M" with the invoice number on every page. Text in Latin and
 * Devanagari scripts prints in embedded Noto fonts; nothing runs outside its
 * column or the margins. A logo that cannot be read is left out and named in
 * `warnings`. The same model always gives the same bytes.
 */
export async function renderInvoicePdf(doc: InvoiceDocument): Promise<RenderResult> {
  const { invoice, school, student } = doc;
  const warnings: string[] = [];
  const pdf = openPdf({
    title: `Invoice ${invoice.number}`,
    author: school.name,
    subject: `Invoice ${invoice.number} for ${student.fullName}`,
    lang: school.locale,
    creationDate: utcDate(invoice.issueDate),
  });
  const { canvas } = pdf;

  let y = drawSchoolHeader(
    canvas,
    school,
    'INVOICE',
    [
      ['Invoice no.', invoice.number],
      ['Issue date', formatDay(invoice.issueDate, school.locale)],
      ['Due date', formatDay(invoice.dueDate, school.locale)],
    ],
    warnings,
  );
  y = drawBillTo(canvas, doc, y);

  const rows = invoice.lines.map((line) => layoutRow(line, school));
  const closing = layoutClosing(doc, warnings);
  const emptyRow = rows.length === 0 ? 2 * PAD_Y + lineHeightOf(CELL_SIZE) : 0;
  const pages = paginate(
    rows.map((row) => row.height),
    BODY_BOTTOM - y - TABLE_HEADER_HEIGHT - emptyRow,
    BODY_BOTTOM - CONTINUATION_TOP - TABLE_HEADER_HEIGHT,
    closing.height,
  );

  pages.forEach((indices, pageIndex) => {
    if (pageIndex > 0) {
      pdf.doc.addPage();
      y = drawContinuationHeader(canvas, doc);
    }
    y = drawTableHeader(canvas, y);
    if (rows.length === 0) y = drawEmptyTable(canvas, y);
    for (const index of indices) {
      const row = rows[index]!;
      drawRow(canvas, row, y);
      y += row.height;
    }
    if (pageIndex === pages.length - 1) closing.draw(canvas, y);
  });

  drawFooters(canvas, `Invoice ${invoice.number}  ·  ${school.name}`);
  const pagesDrawn = pageCount(pdf.doc);
  pdf.doc.end();
  const bytes = await pdf.bytes;
  const missing = missingGlyphWarning(canvas.missing);
  if (missing) warnings.push(missing);
  return { bytes, pages: pagesDrawn, warnings };
}
