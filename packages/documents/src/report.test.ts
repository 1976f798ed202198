import { execFileSync } from 'node:child_process';
import { formatMoney } from '@bursar/contracts';
import type { ReportTable } from '@bursar/ledger';
import { describe, expect, it } from 'vitest';
import { renderInvoicePdf, renderReportPdf, type ReportPdfInput } from './index.js';
import { axisTicks, columnWidths } from './report.js';
import { invoiceDocument, pdfFonts, pdfInfo, pdfText, pdfWords } from './testing.js';

/**
 * A page's text in content-stream order (`pdftotext -raw`), whitespace
 * squashed: a header cell wrapped over lines reads as its label, and the
 * header row as its labels in column order.
 */
function streamText(bytes: Buffer, page: number): string {
  return execFileSync(
    'pdftotext',
    ['-raw', '-enc', 'UTF-8', '-f', String(page), '-l', String(page), '-', '-'],
    {
      input: bytes,
    },
  )
    .toString('utf8')
    .replace(/\s+/g, ' ')
    .trim();
}

/** An amount as pdftotext gives it back (it reads a no-break space as a plain one). */
function shown(amountMinor: number, currency: string, locale: string): string {
  return formatMoney(amountMinor, currency, locale).replace(/[\u00a0\u202f]/g, ' ');
}

/** The text between the first `after` and the next `before`. */
function between(text: string, after: string, before: string): string {
  const start = text.indexOf(after);
  expect(start, after).toBeGreaterThanOrEqual(0);
  const end = text.indexOf(before, start + after.length);
  expect(end, before).toBeGreaterThan(start);
  return text.slice(start + after.length, end);
}

function pagesOf(bytes: Buffer): number {
  return Number(pdfInfo(bytes).Pages);
}

function headerRow(table: ReportTable): string {
  return table.columns.map((column) => column.label).join(' ');
}

/** `2024-04-01` moved by whole months. */
function monthStart(first: string, months: number): string {
  const date = new Date(`${first}T00:00:00Z`);
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1)).toISOString().slice(0, 10);
}

function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** A collections report as the registry makes one: a row and a chart point per period. */
function collectionsReport(periods: number): ReportPdfInput {
  const rows = Array.from({ length: periods }, (_, index) => {
    const start = monthStart('2023-04-01', index);
    const collected = 38_00_000_00 + index * 1_23_457;
    const refunded = index % 7 === 3 ? 2_50_000_00 + index : index * 1_000;
    return {
      start,
      end: dayBefore(monthStart('2023-04-01', index + 1)),
      invoicedMinor: 45_00_000_00 + index * 10_001,
      collectedMinor: collected,
      refundedMinor: refunded,
      // Some months refund more than they take in: the chart has bars below zero.
      netCollectedMinor: index % 11 === 5 ? -(1_75_000_00 + index) : collected - refunded,
      dueMinor: 44_00_000_00,
      collectionRatePercent: index === 2 ? null : Math.round((8753 - index * 17) % 10_000) / 100,
      outstandingMinor: 1_23_45_678_90 - index * 99,
      avgDaysToPay: index === 0 ? null : 12.5 - index / 4,
      payments: 340 + index,
    };
  });
  return {
    title: 'Collections',
    schoolName: 'Sunrise Public School',
    subtitle: `Collections by month, ${rows[0]!.start} to ${rows[rows.length - 1]!.end}`,
    currency: 'INR',
    locale: 'en-IN',
    chart: {
      title: 'Net collected',
      type: 'money',
      points: rows.map((row) => ({ label: row.start, value: row.netCollectedMinor })),
    },
    tables: [
      {
        name: 'periods',
        title: 'Collections by month',
        columns: [
          { key: 'start', label: 'Period start', type: 'date' },
          { key: 'end', label: 'Period end', type: 'date' },
          { key: 'invoicedMinor', label: 'Invoiced', type: 'money' },
          { key: 'collectedMinor', label: 'Collected', type: 'money' },
          { key: 'refundedMinor', label: 'Refunded', type: 'money' },
          { key: 'netCollectedMinor', label: 'Net collected', type: 'money' },
          { key: 'dueMinor', label: 'Fell due', type: 'money' },
          { key: 'collectionRatePercent', label: 'Collection rate %', type: 'percent' },
          { key: 'outstandingMinor', label: 'Outstanding at end', type: 'money' },
          { key: 'avgDaysToPay', label: 'Avg days due to paid', type: 'number' },
          { key: 'payments', label: 'Payments', type: 'number' },
        ],
        rows,
      },
    ],
  };
}

const DEVANAGARI_NAME = 'आशा रोहन कुमार';
const BUCKETS = ['Current', '1-30 days', '31-60 days', '61-90 days', '90+ days'] as const;

/** An aging report: the buckets by class, and `defaulters` students with money overdue. */
function agingReport(defaulters: number): ReportPdfInput {
  const bucketRow = (group: string, name: string, seed: number) => {
    const amounts = BUCKETS.map((_, index) => (seed + 1) * (index + 1) * 1_25_000_00 + seed);
    return {
      group,
      name,
      current: amounts[0]!,
      days1To30: amounts[1]!,
      days31To60: amounts[2]!,
      days61To90: amounts[3]!,
      days90Plus: amounts[4]!,
      totalMinor: amounts.reduce((sum, amount) => sum + amount, 0),
    };
  };
  const total = bucketRow('total', 'All', 12);
  return {
    title: 'Receivables aging',
    schoolName: 'Sunrise Public School',
    subtitle: 'As of 2026-03-31, all classes and fee heads',
    currency: 'INR',
    locale: 'en-IN',
    chart: {
      title: 'Receivables by days overdue',
      type: 'money',
      points: [total.current, total.days1To30, total.days31To60, total.days61To90, total.days90Plus].map(
        (value, index) => ({ label: BUCKETS[index]!, value }),
      ),
    },
    tables: [
      {
        name: 'buckets',
        title: 'Receivables by days overdue as of 2026-03-31',
        columns: [
          { key: 'group', label: 'Group', type: 'text' },
          { key: 'name', label: 'Name', type: 'text' },
          { key: 'current', label: 'Current', type: 'money' },
          { key: 'days1To30', label: '1-30 days', type: 'money' },
          { key: 'days31To60', label: '31-60 days', type: 'money' },
          { key: 'days61To90', label: '61-90 days', type: 'money' },
          { key: 'days90Plus', label: '90+ days', type: 'money' },
          { key: 'totalMinor', label: 'Total', type: 'money' },
        ],
        rows: [
          total,
          ...Array.from({ length: 6 }, (_, index) => bucketRow('class', `Grade ${index + 1}`, index)),
          { ...bucketRow('class', 'No class', 0), days61To90: null },
        ],
      },
      {
        name: 'defaulters',
        title: 'Defaulters as of 2026-03-31',
        columns: [
          { key: 'admissionNo', label: 'Admission no', type: 'text' },
          { key: 'name', label: 'Student', type: 'text' },
          { key: 'className', label: 'Class', type: 'text' },
          { key: 'overdueMinor', label: 'Overdue', type: 'money' },
          { key: 'balanceMinor', label: 'Balance', type: 'money' },
          { key: 'oldestDueDate', label: 'Oldest due', type: 'date' },
          { key: 'daysOverdue', label: 'Days overdue', type: 'number' },
        ],
        rows: Array.from({ length: defaulters }, (_, index) => ({
          admissionNo: `SPS-${String(index + 1).padStart(4, '0')}`,
          name:
            index === 6
              ? DEVANAGARI_NAME
              : index === 9
                ? 'Maria-Zoë Fernández de la Cruz y Montenegro Vasquez-Oyelaran Łukasz'
                : `Student ${index + 1} Kumar`,
          className: index % 9 === 0 ? null : `Grade ${(index % 12) + 1} ${'ABC'[index % 3]}`,
          overdueMinor: 2_00_000_00 - index * 73_19,
          balanceMinor: 2_50_000_00 - index * 51_07,
          oldestDueDate: '2025-11-15',
          daysOverdue: 136 - Math.floor(index / 2),
        })),
      },
    ],
  };
}

describe('a collections report', () => {
  const report = collectionsReport(30);
  const table = report.tables[0]!;

  it('prints the school, the title, a chart with money gridlines, and every period’s amounts as formatMoney writes them', async () => {
    const bytes = await renderReportPdf(report);
    const pages = pagesOf(bytes);
    expect(pages).toBe(2);
    const all = pdfText(bytes);
    const first = pdfText(bytes, 1);
    expect(first).toContain('Sunrise Public School');
    expect(first).toContain('Collections');
    expect(first).toContain(report.subtitle);
    expect(first).toContain('Net collected');
    for (const row of table.rows) {
      for (const key of [
        'invoicedMinor',
        'collectedMinor',
        'refundedMinor',
        'netCollectedMinor',
        'outstandingMinor',
      ]) {
        expect(all, `${key} of ${String(row.start)}`).toContain(shown(row[key] as number, 'INR', 'en-IN'));
      }
    }
    expect(all).toContain('₹44,00,000.00');
    // Percent in the locale's form, a null as a dash.
    expect(all).toContain('87.53%');
    expect(all).toContain('—');

    // The chart sits above the table: its gridlines are labelled in rupees, zero among them.
    const chart = between(first, report.chart!.title, table.title);
    expect(chart).toContain('₹0.00');
    expect(chart).toMatch(/-₹[\d,]+\.00/);
    const gridlines = chart.match(/-?₹[\d,]+\.\d\d/g) ?? [];
    expect(gridlines.length).toBeGreaterThanOrEqual(3);
    // 30 bars too narrow for each date under them: some labelled, not all, first first.
    const labels = chart.match(/\b\d{1,2} [A-Z][a-z]{2,3} \d{4}\b/g) ?? [];
    expect(labels.length).toBeGreaterThan(3);
    expect(labels.length).toBeLessThan(30);
    expect(labels[0]).toBe('1 Apr 2023');
  });

  it('repeats the header row on every page and numbers the pages', async () => {
    const bytes = await renderReportPdf(report);
    const pages = pagesOf(bytes);
    const periods: string[] = [];
    for (let page = 1; page <= pages; page++) {
      const stream = streamText(bytes, page);
      expect(stream, `page ${page}`).toContain(headerRow(table));
      expect(pdfText(bytes, page), `page ${page}`).toContain(`Page ${page} of ${pages}`);
      const body = stream.slice(stream.indexOf(headerRow(table)));
      periods.push(...(body.match(/\b\d{1,2} [A-Z][a-z]{2,3} \d{4} \d{1,2} [A-Z][a-z]{2,3} \d{4}\b/g) ?? []));
    }
    // Each period once, in order, across the pages.
    expect(periods).toHaveLength(table.rows.length);
    expect(periods[0]).toBe('1 Apr 2023 30 Apr 2023');
    expect(periods[29]).toBe('1 Sept 2025 30 Sept 2025');
  });

  it('thins the labels of a day report over a year so none overlaps', async () => {
    const days = Array.from({ length: 365 }, (_, index) => ({
      label: new Date(Date.UTC(2025, 3, 1 + index)).toISOString().slice(0, 10),
      value: (index % 40) * 1_000_00 - 5_000_00,
    }));
    const bytes = await renderReportPdf({
      ...report,
      subtitle: 'Collections by day',
      chart: { title: 'Net collected by day', type: 'money', points: days },
      tables: [],
    });
    expect(pagesOf(bytes)).toBe(1);
    // The labels are the one line of words ending in a year ("1 Apr 2025"), below the plot.
    const words = pdfWords(bytes);
    const years = words.filter((word) => /^20\d\d$/.test(word.text));
    expect(new Set(years.map((word) => word.yMin)).size).toBe(1);
    const line = words.filter((word) => word.yMin === years[0]!.yMin).sort((a, b) => a.xMin - b.xMin);
    const labels: { text: string; xMin: number; xMax: number }[] = [];
    let open: { text: string; xMin: number; xMax: number } | null = null;
    for (const word of line) {
      open = open
        ? { text: `${open.text} ${word.text}`, xMin: open.xMin, xMax: word.xMax }
        : { text: word.text, xMin: word.xMin, xMax: word.xMax };
      if (/^20\d\d$/.test(word.text)) {
        labels.push(open);
        open = null;
      }
    }
    expect(open).toBeNull();
    expect(labels.length).toBeGreaterThanOrEqual(6);
    expect(labels.length).toBeLessThan(40);
    expect(labels[0]!.text).toBe('1 Apr 2025');
    for (const label of labels) expect(label.text).toMatch(/^\d{1,2} [A-Z][a-z]{2,3} 20\d\d$/);
    for (let index = 1; index < labels.length; index++) {
      expect(labels[index]!.xMin, labels[index]!.text).toBeGreaterThan(labels[index - 1]!.xMax + 1);
    }
    expect(pdfText(bytes)).toContain('1 Apr 2025');
  });
});

describe('an aging report with 200 defaulters', () => {
  const report = agingReport(200);
  const [buckets, defaulters] = report.tables as [ReportTable, ReportTable];

  it('flows over several pages: every page numbered, the defaulters’ header on each, every student once and in order', async () => {
    const bytes = await renderReportPdf(report);
    const pages = pagesOf(bytes);
    expect(pages).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    for (let page = 1; page <= pages; page++) {
      const stream = streamText(bytes, page);
      const text = pdfText(bytes, page);
      expect(text, `page ${page}`).toContain(`Page ${page} of ${pages}`);
      expect(text, `page ${page}`).toContain('Sunrise Public School');
      const rows = stream.match(/SPS-\d{4}/g) ?? [];
      expect(rows.length, `rows on page ${page}`).toBeGreaterThan(0);
      expect(stream, `page ${page}`).toContain(headerRow(defaulters));
      seen.push(...rows);
    }
    expect(seen).toEqual(defaulters.rows.map((row) => row.admissionNo));
    expect(streamText(bytes, 1)).toContain(headerRow(buckets));
    expect(streamText(bytes, 2)).toContain('Defaulters as of 2026-03-31 (continued)');
  });

  it('prints the Devanagari name as written, cuts the long one to its column, and every amount in rupees', async () => {
    const bytes = await renderReportPdf(report);
    const text = pdfText(bytes);
    expect(text).toContain('Receivables aging');
    expect(text).toContain(DEVANAGARI_NAME);
    expect(text).toContain('Maria-Zoë Fernández');
    expect(text).not.toContain('Vasquez-Oyelaran Łukasz');
    expect(text).toMatch(/Maria-Zoë Fernández[^\n]*…/);
    for (const row of defaulters.rows) {
      expect(text).toContain(shown(row.overdueMinor as number, 'INR', 'en-IN'));
      expect(text).toContain(shown(row.balanceMinor as number, 'INR', 'en-IN'));
    }
    for (const row of buckets.rows) expect(text).toContain(shown(row.totalMinor as number, 'INR', 'en-IN'));
    expect(text).toContain('15 Nov 2025');
    // Each bar of the five-bucket chart carries its amount.
    const chart = between(pdfText(bytes, 1), report.chart!.title, buckets.title);
    for (const point of report.chart!.points) {
      expect(chart).toContain(point.label);
      expect(chart).toContain(shown(point.value, 'INR', 'en-IN'));
    }
    const fonts = pdfFonts(bytes).map((font) => font.name.replace(/^[A-Z]{6}\+/, ''));
    expect(fonts).toContain('NotoSansDevanagari-Regular');
    for (const font of pdfFonts(bytes))
      expect(font).toMatchObject({ embedded: true, subset: true, unicode: true });
  });
});

describe('a report with an empty table and no chart', () => {
  const report: ReportPdfInput = {
    title: 'Forecast',
    schoolName: 'Grundschule Müllerstraße',
    subtitle: 'Falling due after 2026-03-31',
    currency: 'EUR',
    locale: 'de-DE',
    chart: null,
    tables: [
      {
        name: 'horizons',
        title: 'Falling due in the next days',
        columns: [
          { key: 'className', label: 'Class', type: 'text' },
          { key: 'days', label: 'Within days', type: 'number' },
          { key: 'dueMinor', label: 'Falling due', type: 'money' },
          { key: 'expectedOnTimePercent', label: 'Expected on time %', type: 'percent' },
        ],
        rows: [],
      },
      {
        name: 'summary',
        title: 'Summary',
        columns: [
          { key: 'className', label: 'Class', type: 'text' },
          { key: 'dueMinor', label: 'Falling due', type: 'money' },
          { key: 'rate', label: 'On-time rate %', type: 'percent' },
        ],
        rows: [{ className: '3a', dueMinor: 125_000, rate: 87.53 }],
      },
    ],
  };

  it('is one page: the empty table’s header and a line saying it is empty, amounts in euros as de-DE writes them', async () => {
    const bytes = await renderReportPdf(report);
    expect(pagesOf(bytes)).toBe(1);
    const text = pdfText(bytes);
    expect(text).toContain('Grundschule Müllerstraße');
    expect(text).toContain('Forecast');
    expect(text).toContain('Page 1 of 1');
    const stream = streamText(bytes, 1);
    expect(stream).toContain(
      `Falling due in the next days ${headerRow(report.tables[0]!)} No rows for this report.`,
    );
    expect(stream).toContain(headerRow(report.tables[1]!));
    expect(formatMoney(125_000, 'EUR', 'de-DE')).toBe('1.250,00\u00a0€');
    expect(text).toContain('1.250,00 €');
    expect(text).toContain('87,53 %');
    // No chart: nothing is drawn between the header and the first table.
    expect(stream).toMatch(
      /^Grundschule Müllerstraße Forecast Falling due after 2026-03-31 Falling due in the next days /,
    );
  });
});

describe('the same report renders the same bytes', () => {
  it('twice in a row and after other documents, with no creation date', async () => {
    const report = agingReport(60);
    const first = await renderReportPdf(report);
    await renderReportPdf(collectionsReport(24));
    await renderInvoicePdf(invoiceDocument());
    const second = await renderReportPdf(report);
    expect(second.equals(first)).toBe(true);
    const info = pdfInfo(first);
    expect(info.CreationDate).toBeUndefined();
    expect(info.Title).toBe('Receivables aging');
    expect(info.Author).toBe('Sunrise Public School');

    const other = await renderReportPdf({
      ...report,
      subtitle: 'Receivables by days overdue as of 2026-04-30',
    });
    expect(other.equals(first)).toBe(false);
  });
});

describe('chart axis and column widths', () => {
  it('puts gridlines at round values that take in zero and every value', () => {
    expect(axisTicks(0, 8_500_000, true, 100)).toEqual([0, 2_500_000, 5_000_000, 7_500_000, 10_000_000]);
    expect(axisTicks(-1_200_000, 5_000_000, true, 100)).toEqual([
      -2_000_000, 0, 2_000_000, 4_000_000, 6_000_000,
    ]);
    // Minor units are whole: no step of 2.5 of them.
    expect(axisTicks(0, 9, true, 100)).toEqual([0, 5, 10]);
    expect(axisTicks(0, 0, true, 100)).toEqual([0, 25, 50, 75, 100]);
    expect(axisTicks(0, 87.53, false, 1)).toEqual([0, 25, 50, 75, 100]);
  });

  it('fills the width, and squeezes text columns before amounts', () => {
    expect(columnWidths([100, 100], [50, 100], 400)).toEqual([200, 200]);
    expect(columnWidths([200, 100], [50, 100], 250)).toEqual([150, 100]);
    expect(columnWidths([200, 300], [100, 300], 200)).toEqual([50, 150]);
  });
});
