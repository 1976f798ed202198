import { currencyDigits, formatMoney } from '@bursar/contracts';
import type { ColumnType, ReportChart, ReportTable } from '@bursar/ledger';
import { formatDay } from './format.js';
import { BODY_BOTTOM, COLORS, CONTENT_WIDTH, MARGIN, drawFooters, rule } from './layout.js';
import { openPdf } from './pdf.js';
import {
  fitLine,
  layoutText,
  lineHeightOf,
  measureText,
  type Align,
  type Canvas,
  type TextBlock,
  type TextStyle,
} from './text.js';

/**
 * A computed report as its PDF shows it: the tables and the chart the
 * report's kind makes of its result (see `REPORTS` in the ledger), and the
 * school's currency and locale to print its amounts in.
 */
export interface ReportPdfInput {
  title: string;
  schoolName: string;
  /** What the report covers (`Collections by month, 2025-04-01 to 2026-03-31`). */
  subtitle: string;
  /** ISO 4217, e.g. INR. */
  currency: string;
  /** BCP 47, e.g. en-IN. */
  locale: string;
  chart: ReportChart | null;
  tables: ReportTable[];
}

/** How the values of one report print: its currency, its locale's number and percent formats. */
interface Formats {
  currency: string;
  locale: string;
  number: Intl.NumberFormat;
  percent: Intl.NumberFormat;
}

const numberFormats = new Map<string, Formats>();

function formatsFor(currency: string, locale: string): Formats {
  const key = `${locale}|${currency}`;
  let formats = numberFormats.get(key);
  if (!formats) {
    formats = {
      currency,
      locale,
      number: new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }),
      percent: new Intl.NumberFormat(locale, {
        style: 'percent',
        minimumFractionDigits: 2,
        maximumFractionDigits: 2,
      }),
    };
    numberFormats.set(key, formats);
  }
  return formats;
}

/** What a null prints as: a dash says "nothing to show" where an empty cell could look like a gap. */
const NONE = '—';

/**
 * A value as the report's reader expects it: money (integer minor units) with
 * `formatMoney`, percentages (87.53 meaning 87.53 %) and counts in the
 * locale's digits, ISO dates as the locale writes a day. A value that is not
 * of its column's type (a money column holding a word) prints as it is
 * rather than failing the whole document; null is null.
 */
function formatValue(value: string | number | null, type: ColumnType, formats: Formats): string | null {
  if (value === null) return null;
  switch (type) {
    case 'money':
      if (typeof value === 'number' && Number.isSafeInteger(value)) {
        return formatMoney(value, formats.currency, formats.locale);
      }
      if (typeof value === 'string' && /^-?\d+$/.test(value)) {
        return formatMoney(BigInt(value), formats.currency, formats.locale);
      }
      return String(value);
    case 'percent':
      return typeof value === 'number' && Number.isFinite(value)
        ? formats.percent.format(value / 100)
        : String(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
        ? formats.number.format(value)
        : String(value);
    case 'date':
      return typeof value === 'string' ? formatDay(value, formats.locale) : String(value);
    case 'text':
      return String(value);
  }
}

/** Money, percentages and counts line up on their last digit. */
function isNumeric(type: ColumnType): boolean {
  return type === 'money' || type === 'percent' || type === 'number';
}

/** Values that print whole, shrunk to fit their column if need be, never cut: amounts, counts and dates. */
function fitsWhole(type: ColumnType): boolean {
  return isNumeric(type) || type === 'date';
}

/** The space below the chart and below each table. */
const BLOCK_GAP = 18;

/** The top of the first page: school, title, subtitle. Returns the y below it. */
function drawReportHeader(canvas: Canvas, input: ReportPdfInput): number {
  let y = MARGIN;
  y += canvas.text(
    input.schoolName,
    { size: 11, bold: true },
    { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 2, color: COLORS.muted },
  );
  y += 2;
  y += canvas.text(
    input.title,
    { size: 18, bold: true },
    { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 2, color: COLORS.accent },
  );
  if (input.subtitle) {
    y += 2;
    y += canvas.text(
      input.subtitle,
      { size: 9 },
      { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 3, color: COLORS.muted },
    );
  }
  y += 10;
  rule(canvas, MARGIN, y, CONTENT_WIDTH);
  return y + 14;
}

/** Where the body starts on a later page, below its one-line header. */
const CONTINUATION_TOP = MARGIN + 34;

/** The one-line header of every page after the first: the school, and the report it continues. */
function drawContinuationHeader(canvas: Canvas, input: ReportPdfInput): number {
  const half = CONTENT_WIDTH / 2;
  canvas.text(
    input.schoolName,
    { size: 10, bold: true },
    { x: MARGIN, y: MARGIN, width: half - 8, maxLines: 1 },
  );
  canvas.text(
    `${input.title} (continued)`,
    { size: 8.5 },
    { x: MARGIN + half, y: MARGIN + 1, width: half, align: 'right', maxLines: 1, color: COLORS.muted },
  );
  rule(canvas, MARGIN, MARGIN + 20, CONTENT_WIDTH);
  return CONTINUATION_TOP;
}

// ---------------------------------------------------------------------------
// The chart

const PLOT_HEIGHT = 150;
const AXIS_STYLE: TextStyle = { size: 6.5 };
const POINT_STYLE: TextStyle = { size: 6.5 };
const VALUE_STYLE: TextStyle = { size: 6 };
/** A thinned label is cut to this width, so one long label does not thin out all the others. */
const MAX_POINT_LABEL = 90;
/** Few enough bars that each can carry its own label, wrapped to its slot, instead of thinning them. */
const WRAP_LABELS_UP_TO = 12;
/** Gridlines the axis aims at (a nice step gives between about 3 and 6). */
const TARGET_TICKS = 4;
const POSITIVE_BAR = COLORS.accent;
const NEGATIVE_BAR = '#cf222e';
const GRIDLINE = '#e6e9ed';

/**
 * The gridline values of an axis from `min` to `max` (both including 0): a
 * step of 1, 2, 2.5 or 5 times a power of ten, so the labels read as round
 * amounts. Money and counts are integers (minor units; a step of 2.5 minor
 * units does not exist), so their step is a whole number. Exported for its test.
 */
export function axisTicks(min: number, max: number, integral: boolean, empty: number): number[] {
  // A series of zeros still gets an axis: `empty` above it.
  if (max === min) max = min + empty;
  const span = max - min;
  const raw = span / TARGET_TICKS;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = 10 * magnitude;
  for (const multiple of [1, 2, 2.5, 5]) {
    if (integral && multiple === 2.5 && magnitude < 10) continue;
    if (multiple * magnitude >= raw) {
      step = multiple * magnitude;
      break;
    }
  }
  if (integral) step = Math.max(1, Math.round(step));
  const first = Math.floor(min / step);
  const last = Math.max(Math.ceil(max / step), first + 1);
  const ticks: number[] = [];
  // Rounded so 0.1 + 0.2 steps print as 0.3, and -0 as 0.
  for (let index = first; index <= last; index++) ticks.push(Math.round(index * step * 1e6) / 1e6 || 0);
  return ticks;
}

/** Which bars get a label under them: all when they fit, else every n-th (and none that would overlap). */
interface PointLabels {
  /** By point; null where the label is thinned out. */
  blocks: (TextBlock | null)[];
  every: number;
  height: number;
}

function layoutPointLabels(labels: readonly string[], slot: number): PointLabels {
  const widest = labels.reduce((width, label) => Math.max(width, measureText(label, POINT_STYLE)), 0);
  const room = Math.max(slot - 3, 12);
  if (widest <= room) {
    const blocks = labels.map((label) => layoutText(label, POINT_STYLE, room, 1));
    return { blocks, every: 1, height: lineHeightOf(POINT_STYLE.size) };
  }
  if (labels.length <= WRAP_LABELS_UP_TO) {
    const blocks = labels.map((label) => layoutText(label, POINT_STYLE, room, 2));
    return { blocks, every: 1, height: Math.max(...blocks.map((block) => block.height)) };
  }
  const width = Math.min(widest, MAX_POINT_LABEL);
  const every = Math.ceil((width + 8) / slot);
  const blocks = labels.map((label, index) =>
    index % every === 0 ? layoutText(label, POINT_STYLE, width, 1) : null,
  );
  return { blocks, every, height: lineHeightOf(POINT_STYLE.size) };
}

/**
 * The report's main series as a bar chart, drawn with pdfkit's vector
 * operators: gridlines at round values labelled in the series' own format
 * (money in the school's currency), a bar per point (below the zero line when
 * negative), each bar's value above it when every value fits its bar's
 * width, and the point labels under the bars, thinned to every n-th when
 * there are too many to print side by side (a day report over a year has
 * 365). Returns the y below it.
 */
function drawChart(canvas: Canvas, chart: ReportChart, formats: Formats, top: number): number {
  const { doc } = canvas;
  let y = top;
  y += canvas.text(
    chart.title,
    { size: 10, bold: true },
    { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 2 },
  );
  y += 6;
  const values = chart.points.map((point) => (Number.isFinite(point.value) ? point.value : 0));
  if (values.length === 0) {
    y += canvas.text(
      'Nothing to chart for this report.',
      { size: 8.5 },
      { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 1, color: COLORS.muted },
    );
    return y + BLOCK_GAP;
  }

  const integral = chart.type === 'money' || chart.type === 'number';
  const unit = chart.type === 'money' ? 10 ** currencyDigits(formats.currency) : 1;
  const ticks = axisTicks(
    values.reduce((min, value) => Math.min(min, value), 0),
    values.reduce((max, value) => Math.max(max, value), 0),
    integral,
    100 * unit,
  );
  const bottomValue = ticks[0]!;
  const topValue = ticks[ticks.length - 1]!;
  const tickLabels = ticks.map((tick) => formatValue(tick, chart.type, formats) ?? '');
  const axisWidth = Math.min(
    CONTENT_WIDTH / 3,
    Math.max(...tickLabels.map((label) => measureText(label, AXIS_STYLE))) + 6,
  );
  const plotLeft = MARGIN + axisWidth;
  const plotWidth = CONTENT_WIDTH - axisWidth;
  const slot = plotWidth / values.length;

  const valueTexts = values.map((value) => formatValue(value, chart.type, formats) ?? '');
  const showValues = valueTexts.every((text) => measureText(text, VALUE_STYLE) <= slot - 2);
  const valueHeight = lineHeightOf(VALUE_STYLE.size);
  const plotTop = y + (showValues ? valueHeight : 4);
  const plotBottom = plotTop + PLOT_HEIGHT;
  const yOf = (value: number) => plotTop + ((topValue - value) / (topValue - bottomValue)) * PLOT_HEIGHT;
  const zeroY = yOf(0);

  ticks.forEach((tick, index) => {
    const lineY = yOf(tick);
    rule(canvas, plotLeft, lineY, plotWidth, tick === 0 ? COLORS.muted : GRIDLINE);
    const label = fitLine(tickLabels[index]!, AXIS_STYLE, axisWidth - 6, 5);
    canvas.draw(label, {
      x: MARGIN,
      y: lineY - label.height / 2,
      width: axisWidth - 6,
      align: 'right',
      color: COLORS.muted,
    });
  });

  const barWidth = slot >= 3 ? Math.min(slot * 0.72, 48) : slot;
  values.forEach((value, index) => {
    if (value === 0) return;
    const x = plotLeft + index * slot + (slot - barWidth) / 2;
    const end = yOf(value);
    doc
      .save()
      .rect(x, Math.min(end, zeroY), barWidth, Math.abs(end - zeroY))
      .fill(value < 0 ? NEGATIVE_BAR : POSITIVE_BAR)
      .restore();
    if (showValues) {
      const block = layoutText(valueTexts[index]!, VALUE_STYLE, slot, 1);
      const labelY = value < 0 ? end + 1 : end - block.height;
      canvas.draw(block, { x: plotLeft + index * slot, y: labelY, width: slot, align: 'center' });
    }
  });

  // Negative values' labels hang below their bars, which may reach the plot's bottom.
  const hanging = showValues && values.some((value) => value < 0) ? valueHeight : 0;
  const labelTop = plotBottom + hanging + 4;
  const labels = layoutPointLabels(
    chart.points.map((point) => formatDay(point.label, formats.locale)),
    slot,
  );
  let lastRight = Number.NEGATIVE_INFINITY;
  labels.blocks.forEach((block, index) => {
    if (!block) return;
    const centre = plotLeft + (index + 0.5) * slot;
    const width = labels.every === 1 ? Math.max(slot - 3, 12) : block.width;
    const x = Math.min(Math.max(centre - width / 2, MARGIN), MARGIN + CONTENT_WIDTH - width);
    // A label pushed in from the page's edge may meet its neighbour: it is left out instead.
    if (x < lastRight + 2) return;
    lastRight = x + width;
    if (labels.every > 1) {
      doc
        .save()
        .moveTo(centre, plotBottom)
        .lineTo(centre, plotBottom + 2.5)
        .lineWidth(0.6)
        .strokeColor(COLORS.muted)
        .stroke()
        .restore();
    }
    canvas.draw(block, { x, y: labelTop, width, align: 'center', color: COLORS.muted });
  });
  return labelTop + labels.height + BLOCK_GAP;
}

// ---------------------------------------------------------------------------
// Tables

const PAD_X = 4;
const PAD_Y = 3.5;
const HEADER_STYLE: TextStyle = { size: 7, bold: true };
const HEADER_LINES = 3;
/** The smallest size an amount shrinks to before it is cut. */
const MIN_CELL_SIZE = 5;
/** How far an amount or a date may shrink to make room before every column narrows (7 pt to 5.6 pt). */
const SHRINK_FLOOR = 0.8;
/** A text column asks for no more than this, so one long name does not squeeze the amounts. */
const TEXT_WANT_CAP = 170;
/** A text column is not squeezed below this (or its header's longest word). */
const TEXT_MIN = 48;

interface Cell {
  text: string;
  none: boolean;
}

interface LaidOutColumn {
  x: number;
  width: number;
  align: Align;
  whole: boolean;
  header: TextBlock;
}

interface LaidOutTable {
  title: string;
  columns: LaidOutColumn[];
  headerHeight: number;
  rows: Cell[][];
  cellStyle: TextStyle;
  rowHeight: number;
}

/**
 * The narrowest width a header fits in, whole words on at most
 * {@link HEADER_LINES} lines ("Avg days / due to / paid"): from its longest
 * word up, a couple of points at a time.
 */
function headerWidth(label: string): number {
  const whole = measureText(label, HEADER_STYLE);
  let width = Math.max(
    label.split(/\s+/).reduce((widest, word) => Math.max(widest, measureText(word, HEADER_STYLE)), 0),
    whole / HEADER_LINES,
  );
  while (width < whole && layoutText(label, HEADER_STYLE, width).lines.length > HEADER_LINES) width += 2;
  return Math.min(width, whole);
}

/**
 * Column widths that fill the page: each column asks for its widest cell
 * (text capped) or the narrowest width its header fits in, whichever is wider. With room
 * to spare every column grows in proportion. Without, text columns give way
 * first, down to a floor (their text is then cut with an ellipsis), and only
 * then does every column narrow in proportion (amounts then print smaller).
 * Exported for its test.
 */
export function columnWidths(
  wants: readonly number[],
  floors: readonly number[],
  available: number,
): number[] {
  const total = wants.reduce((sum, want) => sum + want, 0);
  if (total === 0) return wants.map(() => 0);
  if (total <= available) return wants.map((want) => (want * available) / total);
  const deficit = total - available;
  const slack = wants.reduce((sum, want, index) => sum + (want - floors[index]!), 0);
  if (slack >= deficit) {
    return wants.map((want, index) => want - ((want - floors[index]!) * deficit) / slack);
  }
  const floorTotal = floors.reduce((sum, floor) => sum + floor, 0);
  return floors.map((floor) => (floor * available) / floorTotal);
}

function layoutTable(table: ReportTable, formats: Formats): LaidOutTable {
  const cellStyle: TextStyle = { size: table.columns.length > 8 ? 7 : 7.5 };
  const rows = table.rows.map((row) =>
    table.columns.map((column): Cell => {
      const text = formatValue(row[column.key] ?? null, column.type, formats);
      return text === null ? { text: NONE, none: true } : { text, none: false };
    }),
  );
  const wants: number[] = [];
  const floors: number[] = [];
  table.columns.forEach((column, index) => {
    const header = headerWidth(column.label);
    let widest = 0;
    for (const row of rows) widest = Math.max(widest, measureText(row[index]!.text, cellStyle));
    if (fitsWhole(column.type)) {
      wants.push(Math.max(header, widest) + 2 * PAD_X);
      floors.push(Math.max(header, widest * SHRINK_FLOOR) + 2 * PAD_X);
    } else {
      const want = Math.max(header, Math.min(widest, TEXT_WANT_CAP)) + 2 * PAD_X;
      wants.push(want);
      floors.push(Math.min(want, Math.max(header, TEXT_MIN) + 2 * PAD_X));
    }
  });
  const widths = columnWidths(wants, floors, CONTENT_WIDTH);
  let x = MARGIN;
  const columns = table.columns.map((column, index): LaidOutColumn => {
    const width = widths[index]!;
    const laidOut = {
      x,
      width,
      align: isNumeric(column.type) ? ('right' as const) : ('left' as const),
      whole: fitsWhole(column.type),
      header: layoutText(column.label, HEADER_STYLE, width - 2 * PAD_X, HEADER_LINES),
    };
    x += width;
    return laidOut;
  });
  const headerHeight =
    columns.reduce(
      (height, column) => Math.max(height, column.header.height),
      lineHeightOf(HEADER_STYLE.size),
    ) +
    2 * PAD_Y;
  return {
    title: table.title,
    columns,
    headerHeight,
    rows,
    cellStyle,
    rowHeight: lineHeightOf(cellStyle.size) + 2 * PAD_Y,
  };
}

function drawHeaderRow(canvas: Canvas, table: LaidOutTable, y: number): number {
  canvas.doc.save().rect(MARGIN, y, CONTENT_WIDTH, table.headerHeight).fill(COLORS.fill).restore();
  for (const column of table.columns) {
    canvas.draw(column.header, {
      x: column.x + PAD_X,
      y: y + PAD_Y,
      width: column.width - 2 * PAD_X,
      align: column.align,
      color: COLORS.muted,
    });
  }
  return y + table.headerHeight;
}

/**
 * One row: every cell on one line, text cut with an ellipsis to its column
 * and amounts and dates shrunk to fit it (so every row has the same height
 * and an amount keeps all its digits), on one baseline whatever size each printed at.
 */
function drawRow(canvas: Canvas, table: LaidOutTable, row: readonly Cell[], y: number): void {
  const { cellStyle } = table;
  table.columns.forEach((column, index) => {
    const cell = row[index]!;
    const width = column.width - 2 * PAD_X;
    const block = column.whole
      ? fitLine(cell.text, cellStyle, width, MIN_CELL_SIZE)
      : layoutText(cell.text, cellStyle, width, 1);
    canvas.draw(block, {
      x: column.x + PAD_X,
      // The baseline of a cell at the full size: text.ts sets it 0.98 of the size below the top.
      y: y + PAD_Y + (cellStyle.size - block.size) * 0.98,
      width,
      align: column.align,
      color: cell.none ? COLORS.muted : COLORS.ink,
    });
  });
  rule(canvas, MARGIN, y + table.rowHeight, CONTENT_WIDTH, GRIDLINE);
}

const TITLE_STYLE: TextStyle = { size: 10, bold: true };

/**
 * A table flowing over as many pages as it needs: its title, then the header
 * row, repeated (under the title marked continued) on every page it runs on.
 * A table starts on a new page unless its title, header and first row fit
 * where it would begin. A table with no rows says so under its header.
 * Returns the y below it.
 */
function drawTable(canvas: Canvas, table: LaidOutTable, top: number, newPage: () => number): number {
  const title = layoutText(table.title, TITLE_STYLE, CONTENT_WIDTH, 2);
  let y = top;
  if (y + title.height + 4 + table.headerHeight + table.rowHeight > BODY_BOTTOM) y = newPage();
  y += canvas.draw(title, { x: MARGIN, y, width: CONTENT_WIDTH }) + 4;
  y = drawHeaderRow(canvas, table, y);
  if (table.rows.length === 0) {
    canvas.text('No rows for this report.', table.cellStyle, {
      x: MARGIN + PAD_X,
      y: y + PAD_Y,
      width: CONTENT_WIDTH - 2 * PAD_X,
      maxLines: 1,
      color: COLORS.muted,
    });
    return y + table.rowHeight + BLOCK_GAP;
  }
  for (const row of table.rows) {
    if (y + table.rowHeight > BODY_BOTTOM) {
      y = newPage();
      y += canvas.text(
        `${table.title} (continued)`,
        { size: 8.5, bold: true },
        { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 1, color: COLORS.muted },
      );
      y = drawHeaderRow(canvas, table, y + 4);
    }
    drawRow(canvas, table, row, y);
    y += table.rowHeight;
  }
  return y + BLOCK_GAP;
}

/**
 * Leaves the creation date out of the document's info dictionary: a report
 * has no day of its own to stamp (what it covers is in its subtitle), and the
 * clock would make every render differ. pdfkit (0.20, pinned) writes the info
 * dictionary from the info object's enumerable keys, but its XMP metadata
 * reads `CreationDate` unconditionally, so it stays on the object (the
 * epoch, for the XMP packet alone), readable but not enumerable.
 */
function hideCreationDate(doc: PDFKit.PDFDocument): void {
  Object.defineProperty(doc.info, 'CreationDate', { value: new Date(0), enumerable: false });
}

/**
 * A report as an A4 PDF: the school, the report's title and what it covers;
 * its main series as a bar chart; then each table flowing across pages with
 * its header row on every page; "Page N of M" on every page. Text prints in
 * the embedded Noto faces the invoices use (Latin and Devanagari, parsed once
 * per process). The same input gives the same bytes: the document carries no
 * creation date (its /ID is derived from the fixed info alone).
 */
export async function renderReportPdf(input: ReportPdfInput): Promise<Buffer> {
  const formats = formatsFor(input.currency, input.locale);
  const pdf = openPdf({
    title: input.title,
    author: input.schoolName,
    subject: input.subtitle,
    lang: input.locale,
    // pdfkit derives the file /ID from the info as opened; the date is then hidden (below).
    creationDate: new Date(0),
  });
  hideCreationDate(pdf.doc);
  const { canvas } = pdf;
  const newPage = () => {
    pdf.doc.addPage();
    return drawContinuationHeader(canvas, input);
  };

  let y = drawReportHeader(canvas, input);
  if (input.chart) y = drawChart(canvas, input.chart, formats, y);
  for (const table of input.tables) y = drawTable(canvas, layoutTable(table, formats), y, newPage);

  drawFooters(canvas, `${input.title}  ·  ${input.schoolName}`);
  pdf.doc.end();
  return pdf.bytes;
}
