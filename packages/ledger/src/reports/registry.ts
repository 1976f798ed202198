import type {
  AgingResult,
  CollectionsResult,
  CreateReportBody,
  ForecastResult,
  ReportKind,
  ReportParams,
  ReportResult,
  ReportScheduleParams,
} from '@bursar/contracts';
import { addDays } from '../dates.js';
import type { Db } from '../db.js';
import { agingReport } from './aging.js';
import { collectionsReport } from './collections.js';
import { forecastReport } from './forecast.js';

/** How a column's values print: money in the school's currency, a percentage, a count, a date or text. */
export type ColumnType = 'money' | 'percent' | 'number' | 'date' | 'text';

/** A table of a report, for the CSV and PDF exports: one row per period or per line. */
export interface ReportTable {
  /** Short name (`?section=` of the CSV export). */
  name: string;
  title: string;
  columns: { key: string; label: string; type: ColumnType }[];
  rows: Record<string, string | number | null>[];
}

/** The main series of a report, drawn above its first table in the PDF. */
export interface ReportChart {
  title: string;
  type: ColumnType;
  points: { label: string; value: number }[];
}

/**
 * A report kind: how it is computed, how it reads as tables and a chart, and
 * what a scheduled run asks for. Adding a kind (attendance, campaigns) is one
 * module of this shape, registered in `REPORTS`, and its params and result in
 * the contracts.
 */
export interface ReportModule<P extends ReportParams = ReportParams, R extends ReportResult = ReportResult> {
  title: string;
  compute(db: Db, params: P): Promise<R>;
  tables(result: R): ReportTable[];
  chart(result: R): ReportChart | null;
  /** The request a schedule makes on local day `today`. */
  scheduled(params: ReportScheduleParams, today: string): CreateReportBody;
}

type ParamsOf<K extends ReportKind> = Extract<ReportParams, { kind: K }>;
type ResultOf<K extends ReportKind> = Extract<ReportResult, { kind: K }>;

const BUCKET_COLUMNS = [
  { key: 'current', label: 'Current', type: 'money' },
  { key: 'days1To30', label: '1-30 days', type: 'money' },
  { key: 'days31To60', label: '31-60 days', type: 'money' },
  { key: 'days61To90', label: '61-90 days', type: 'money' },
  { key: 'days90Plus', label: '90+ days', type: 'money' },
  { key: 'totalMinor', label: 'Total', type: 'money' },
] as const;

/** The first day of the period `periods - 1` periods before the one holding `today`. */
function lookbackStart(
  today: string,
  granularity: CollectionsResult['granularity'],
  periods: number,
): string {
  const date = new Date(`${today}T00:00:00Z`);
  switch (granularity) {
    case 'day':
      return addDays(today, -(periods - 1));
    case 'week': {
      const monday = addDays(today, -((date.getUTCDay() + 6) % 7));
      return addDays(monday, -7 * (periods - 1));
    }
    case 'month':
    case 'term': {
      const step = granularity === 'month' ? 1 : 4;
      const month = date.getUTCMonth();
      const first = granularity === 'month' ? month : month - (month % 4);
      return new Date(Date.UTC(date.getUTCFullYear(), first - step * (periods - 1), 1))
        .toISOString()
        .slice(0, 10);
    }
  }
}

const collections: ReportModule<ParamsOf<'collections'>, ResultOf<'collections'>> = {
  title: 'Collections',
  compute: (db, params) => collectionsReport(db, params),
  tables: (result) => [
    {
      name: 'periods',
      title: `Collections by ${result.granularity}, ${result.from} to ${result.to}`,
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
      rows: result.periods,
    },
  ],
  chart: (result) => ({
    title: 'Net collected',
    type: 'money',
    points: result.periods.map((period) => ({ label: period.start, value: period.netCollectedMinor })),
  }),
  scheduled: (params, today) => {
    const granularity = params.granularity ?? 'month';
    const defaults = { day: 30, week: 12, month: 12, term: 3 } as const;
    return {
      kind: 'collections',
      schoolId: params.schoolId,
      classId: params.classId,
      feeHead: params.feeHead,
      granularity,
      from: lookbackStart(today, granularity, params.periods ?? defaults[granularity]),
      to: today,
      asOf: today,
    };
  },
};

const aging: ReportModule<ParamsOf<'aging'>, ResultOf<'aging'>> = {
  title: 'Receivables aging',
  compute: (db, params) => agingReport(db, params),
  tables: (result: AgingResult) => [
    {
      name: 'buckets',
      title: `Receivables by days overdue as of ${result.asOf}`,
      columns: [
        { key: 'group', label: 'Group', type: 'text' },
        { key: 'name', label: 'Name', type: 'text' },
        ...BUCKET_COLUMNS,
      ],
      rows: [
        { group: 'total', name: 'All', ...result.buckets },
        ...result.byClass.map(({ classId: _id, className, ...buckets }) => ({
          group: 'class',
          name: className ?? 'No class',
          ...buckets,
        })),
        ...result.byFeeHead.map(({ feeHead, ...buckets }) => ({
          group: 'fee head',
          name: feeHead ?? 'No fee head',
          ...buckets,
        })),
      ],
    },
    {
      name: 'defaulters',
      title: `Defaulters as of ${result.asOf}`,
      columns: [
        { key: 'admissionNo', label: 'Admission no', type: 'text' },
        { key: 'name', label: 'Student', type: 'text' },
        { key: 'className', label: 'Class', type: 'text' },
        { key: 'overdueMinor', label: 'Overdue', type: 'money' },
        { key: 'balanceMinor', label: 'Balance', type: 'money' },
        { key: 'oldestDueDate', label: 'Oldest due', type: 'date' },
        { key: 'daysOverdue', label: 'Days overdue', type: 'number' },
      ],
      rows: result.defaulters.map((row) => ({
        admissionNo: row.admissionNo,
        name: `${row.firstName} ${row.lastName}`,
        className: row.className,
        overdueMinor: row.overdueMinor,
        balanceMinor: row.balanceMinor,
        oldestDueDate: row.oldestDueDate,
        daysOverdue: row.daysOverdue,
      })),
    },
  ],
  chart: (result) => ({
    title: 'Receivables by days overdue',
    type: 'money',
    points: BUCKET_COLUMNS.slice(0, 5).map((column) => ({
      label: column.label,
      value: result.buckets[column.key],
    })),
  }),
  scheduled: (params, today) => ({
    kind: 'aging',
    schoolId: params.schoolId,
    classId: params.classId,
    feeHead: params.feeHead,
    asOf: today,
  }),
};

const forecast: ReportModule<ParamsOf<'forecast'>, ResultOf<'forecast'>> = {
  title: 'Forecast',
  compute: (db, params) => forecastReport(db, params),
  tables: (result: ForecastResult) => [
    {
      name: 'horizons',
      title: `Falling due after ${result.asOf} (on-time rates from invoices due since ${result.historyFrom})`,
      columns: [
        { key: 'className', label: 'Class', type: 'text' },
        { key: 'days', label: 'Within days', type: 'number' },
        { key: 'invoices', label: 'Invoices', type: 'number' },
        { key: 'dueMinor', label: 'Falling due', type: 'money' },
        { key: 'expectedOnTimeMinor', label: 'Expected on time', type: 'money' },
        { key: 'expectedOnTimePercent', label: 'Expected on time %', type: 'percent' },
        { key: 'onTimeRatePercent', label: 'On-time rate %', type: 'percent' },
        { key: 'rateBasis', label: 'Rate from', type: 'text' },
      ],
      rows: [
        ...result.horizons.map((horizon) => ({
          className: 'All classes',
          ...horizon,
          onTimeRatePercent: null,
          rateBasis: null,
        })),
        ...result.byClass.flatMap((row) =>
          row.horizons.map((horizon) => ({
            className: row.className ?? 'No class',
            ...horizon,
            onTimeRatePercent: row.onTimeRatePercent,
            rateBasis: row.rateBasis,
          })),
        ),
      ],
    },
  ],
  chart: (result) => ({
    title: 'Falling due and expected on time',
    type: 'money',
    points: result.horizons.flatMap((horizon) => [
      { label: `${horizon.days} days due`, value: horizon.dueMinor },
      { label: `${horizon.days} days on time`, value: horizon.expectedOnTimeMinor },
    ]),
  }),
  scheduled: (params, today) => ({
    kind: 'forecast',
    schoolId: params.schoolId,
    classId: params.classId,
    feeHead: params.feeHead,
    asOf: today,
  }),
};

/** Every report kind, by name: the one place a kind is registered. */
export const REPORTS: { [K in ReportKind]: ReportModule<ParamsOf<K>, ResultOf<K>> } = {
  collections,
  aging,
  forecast,
};

/** The module of a report's kind (typed loosely: the caller holds params and result of the same kind). */
export function reportModule(kind: ReportKind): ReportModule {
  return REPORTS[kind] as unknown as ReportModule;
}

/** Computes a report from its resolved parameters. */
export function computeReport(db: Db, params: ReportParams): Promise<ReportResult> {
  return reportModule(params.kind).compute(db, params);
}
