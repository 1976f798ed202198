import { z } from 'zod';
import { AmountMinor, CurrencyCode, Id, IsoDate, IsoDateTime, PaginationQuery, paginated } from './common.js';
import { Aging } from './billing.js';
import { PlainText } from './list.js';

/** How a report's periods are cut: local calendar days, ISO weeks (Monday first), months, or terms. */
export const ReportGranularity = z.enum(['day', 'week', 'month', 'term']);
export type ReportGranularity = z.infer<typeof ReportGranularity>;

/**
 * Terms: every school's year is cut into three terms that start on these
 * months (January, May, September), the same in every school until a school
 * can say its own.
 */
export const TERM_START_MONTHS = [1, 5, 9] as const;

/** The longest range a `day` report may cover (two years), and any report (twenty). */
export const MAX_DAY_RANGE_DAYS = 731;
export const MAX_RANGE_DAYS = 7_305;

/** Days between two ISO dates (`to - from`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

const FeeHead = PlainText(1, 100);

/** What every report kind may be narrowed by: one class (the students now in it) or one fee head. */
const Narrowing = {
  schoolId: Id,
  classId: Id.optional(),
  feeHead: FeeHead.optional(),
};

/**
 * `collections`: per period from `from` to `to` (inclusive, the school's
 * local dates), money invoiced, collected, refunded, what fell due and the
 * share of it collected, the receivables at the period's end and the average
 * days from due date to payment.
 */
export const CollectionsParams = z.strictObject({
  kind: z.literal('collections'),
  ...Narrowing,
  from: IsoDate,
  to: IsoDate,
  granularity: ReportGranularity,
  asOf: IsoDate.optional(),
});

/** `aging`: receivables as they stood at the end of `asOf` (default today), by days overdue. */
export const AgingParams = z.strictObject({
  kind: z.literal('aging'),
  ...Narrowing,
  asOf: IsoDate.optional(),
  // Accepted for a uniform request body; aging is a point in time, so they are not used.
  from: IsoDate.optional(),
  to: IsoDate.optional(),
  granularity: ReportGranularity.optional(),
});

/** `forecast`: what falls due in the 30, 60 and 90 days after `asOf` (default today), and how much of it should arrive on time. */
export const ForecastParams = z.strictObject({
  kind: z.literal('forecast'),
  ...Narrowing,
  asOf: IsoDate.optional(),
  from: IsoDate.optional(),
  to: IsoDate.optional(),
  granularity: ReportGranularity.optional(),
});

function checkRange(
  value: { from?: string; to?: string; granularity?: ReportGranularity },
  context: z.RefinementCtx,
) {
  if (!value.from || !value.to) return;
  const days = daysBetween(value.from, value.to);
  if (days < 0)
    context.addIssue({ code: 'custom', path: ['from'], message: '`from` must not be after `to`' });
  else if (value.granularity === 'day' && days >= MAX_DAY_RANGE_DAYS) {
    context.addIssue({
      code: 'custom',
      path: ['granularity'],
      message: `a day-by-day report covers at most ${MAX_DAY_RANGE_DAYS} days; use week, month or term for longer ranges`,
    });
  } else if (days >= MAX_RANGE_DAYS) {
    context.addIssue({
      code: 'custom',
      path: ['to'],
      message: `a report covers at most ${MAX_RANGE_DAYS} days`,
    });
  }
}

/** `POST /api/reports`: which report, for which school; unknown kinds are a 422 naming the known ones. */
export const CreateReportBody = z
  .discriminatedUnion('kind', [CollectionsParams, AgingParams, ForecastParams])
  .superRefine(checkRange);
export type CreateReportBody = z.infer<typeof CreateReportBody>;
export type ReportKind = CreateReportBody['kind'];
export const REPORT_KINDS = ['collections', 'aging', 'forecast'] as const satisfies readonly ReportKind[];

/** A report's parameters after defaults were applied (`asOf` resolved to a date): what it was computed from. */
export const ReportParams = z.discriminatedUnion('kind', [
  CollectionsParams.extend({ asOf: IsoDate }),
  AgingParams.omit({ from: true, to: true, granularity: true }).extend({ asOf: IsoDate }),
  ForecastParams.omit({ from: true, to: true, granularity: true }).extend({ asOf: IsoDate }),
]);
export type ReportParams = z.infer<typeof ReportParams>;

const Percent = z
  .number()
  .nullable()
  .meta({ description: 'A percentage with two decimals; null when there is nothing to divide by.' });

/** One period of a collections report (`start`..`end` inclusive, local dates). */
export const CollectionsPeriod = z.object({
  start: IsoDate,
  end: IsoDate,
  invoicedMinor: AmountMinor,
  collectedMinor: AmountMinor,
  refundedMinor: AmountMinor,
  netCollectedMinor: AmountMinor,
  /** Invoiced with a due date in the period (not void). */
  dueMinor: AmountMinor,
  /** collected ÷ due, in percent. */
  collectionRatePercent: Percent,
  /** Receivables at the end of the period, as they stood then. */
  outstandingMinor: AmountMinor,
  /** Mean over the period's payments of (payment's local date − its invoice's due date); negative is early. */
  avgDaysToPay: z.number().nullable(),
  payments: z.number().int(),
});
export type CollectionsPeriod = z.infer<typeof CollectionsPeriod>;

export const CollectionsResult = z.object({
  kind: z.literal('collections'),
  currency: CurrencyCode,
  timezone: z.string(),
  from: IsoDate,
  to: IsoDate,
  granularity: ReportGranularity,
  periods: z.array(CollectionsPeriod),
  totals: CollectionsPeriod.omit({ start: true, end: true }),
});
export type CollectionsResult = z.infer<typeof CollectionsResult>;

export const AgingBuckets = Aging.extend({ totalMinor: AmountMinor });
export type AgingBuckets = z.infer<typeof AgingBuckets>;

export const AgingResult = z.object({
  kind: z.literal('aging'),
  currency: CurrencyCode,
  timezone: z.string(),
  asOf: IsoDate,
  buckets: AgingBuckets,
  byClass: z.array(AgingBuckets.extend({ classId: Id.nullable(), className: z.string().nullable() })),
  /** An invoice's open balance is split over its lines' fee heads in proportion to their amounts. */
  byFeeHead: z.array(AgingBuckets.extend({ feeHead: z.string().nullable() })),
  /** Students with money overdue at `asOf`, most overdue first. */
  defaulters: z.array(
    z.object({
      studentId: Id,
      admissionNo: z.string(),
      firstName: z.string(),
      lastName: z.string(),
      classId: Id.nullable(),
      className: z.string().nullable(),
      overdueMinor: AmountMinor,
      balanceMinor: AmountMinor,
      oldestDueDate: IsoDate,
      daysOverdue: z.number().int(),
    }),
  ),
});
export type AgingResult = z.infer<typeof AgingResult>;

export const ForecastHorizon = z.object({
  days: z.number().int(),
  invoices: z.number().int(),
  /** Still to pay on invoices due in (asOf, asOf + days]. */
  dueMinor: AmountMinor,
  expectedOnTimeMinor: AmountMinor,
  expectedOnTimePercent: Percent,
});

export const ForecastResult = z.object({
  kind: z.literal('forecast'),
  currency: CurrencyCode,
  timezone: z.string(),
  asOf: IsoDate,
  /** Invoices due in the year before `asOf` that the on-time rates are learnt from. */
  historyFrom: IsoDate,
  horizons: z.array(ForecastHorizon),
  byClass: z.array(
    z.object({
      classId: Id.nullable(),
      className: z.string().nullable(),
      /** Share of what fell due in the history that was paid by its due date, in percent. */
      onTimeRatePercent: Percent,
      /** Whose history the rate is: the class's, the school's (a class without history), or none. */
      rateBasis: z.enum(['class', 'school', 'none']),
      horizons: z.array(ForecastHorizon),
    }),
  ),
});
export type ForecastResult = z.infer<typeof ForecastResult>;

export const ReportResult = z.discriminatedUnion('kind', [CollectionsResult, AgingResult, ForecastResult]);
export type ReportResult = z.infer<typeof ReportResult>;

export const ReportStatus = z.enum(['queued', 'running', 'succeeded', 'failed']);
export type ReportStatus = z.infer<typeof ReportStatus>;

/** `GET /api/reports/:id`. */
export const Report = z.object({
  id: Id,
  kind: z.string(),
  schoolId: Id,
  params: ReportParams,
  status: ReportStatus,
  progress: z.number().int().min(0).max(100),
  result: ReportResult.nullable(),
  error: z.string().nullable(),
  scheduleId: Id.nullable(),
  createdAt: IsoDateTime,
  startedAt: IsoDateTime.nullable(),
  finishedAt: IsoDateTime.nullable(),
});
export type Report = z.infer<typeof Report>;

/** Answer of `POST /api/reports` (202): the report asked for, or the identical one already queued, running or fresh. */
export const ReportAccepted = z.object({ id: Id, status: ReportStatus, deduplicated: z.boolean() });
export type ReportAccepted = z.infer<typeof ReportAccepted>;

/** `GET /api/reports/:id/export.csv`: which of the report's tables (`periods`, `buckets`, `defaulters`, …); the first by default. */
export const ReportCsvQuery = z.strictObject({
  section: z
    .string()
    .regex(/^[a-z-]{1,40}$/)
    .optional(),
});

/** `GET /api/reports`: newest first; the list leaves `result` out (read one report for it). */
export const ListReportsQuery = PaginationQuery.extend({
  schoolId: Id.optional(),
  kind: z.enum(REPORT_KINDS).optional(),
  status: ReportStatus.optional(),
}).strict();
export type ListReportsQuery = z.infer<typeof ListReportsQuery>;
export const ReportSummary = Report.omit({ result: true });
export const ReportList = paginated(ReportSummary);

/**
 * What a scheduled report is computed from at each run: the kind's narrowing,
 * and for collections the granularity and how many periods back from the run
 * day (`periods`, the current one included).
 */
export const ReportScheduleParams = z.strictObject({
  schoolId: Id,
  classId: Id.optional(),
  feeHead: FeeHead.optional(),
  granularity: ReportGranularity.optional(),
  periods: z.number().int().min(1).max(366).optional(),
});
export type ReportScheduleParams = z.infer<typeof ReportScheduleParams>;

/**
 * A cron pattern of five fields (minute hour day-of-month month day-of-week),
 * run in the school's time zone; at most once an hour.
 */
export const CronPattern = z
  .string()
  .trim()
  .max(100)
  .regex(/^\S+(\s+\S+){4}$/, 'a cron pattern has five fields: minute hour day-of-month month day-of-week');

/** `POST /api/report-schedules`. */
export const CreateReportScheduleBody = z.strictObject({
  kind: z.enum(REPORT_KINDS),
  params: ReportScheduleParams,
  cron: CronPattern,
});
export type CreateReportScheduleBody = z.infer<typeof CreateReportScheduleBody>;

export const ReportSchedule = z.object({
  id: Id,
  schoolId: Id,
  kind: z.enum(REPORT_KINDS),
  params: ReportScheduleParams,
  cron: z.string(),
  timezone: z.string(),
  nextRunAt: IsoDateTime.nullable(),
  createdAt: IsoDateTime,
});
export type ReportSchedule = z.infer<typeof ReportSchedule>;
export const ListReportSchedulesQuery = PaginationQuery.extend({ schoolId: Id.optional() }).strict();
export const ReportScheduleList = paginated(ReportSchedule);

// ---- Analytics (`/api/analytics/*`) ----

const SchoolQuery = { schoolId: Id };

export const DashboardQuery = z.strictObject({ schoolId: Id.optional() });
export type DashboardQuery = z.infer<typeof DashboardQuery>;

const DashboardTotals = z.object({
  invoicedMinor: AmountMinor,
  /** Collected net of refunds. */
  collectedMinor: AmountMinor,
  outstandingMinor: AmountMinor,
  overdueMinor: AmountMinor,
  collectedTodayMinor: AmountMinor,
  collectedThisMonthMinor: AmountMinor,
});

/** `GET /api/analytics/dashboard?schoolId`: one school's figures today (in its zone). */
export const SchoolDashboard = z.object({
  schoolId: Id,
  currency: CurrencyCode,
  today: IsoDate,
  totals: DashboardTotals,
  topFeeHeads: z.array(z.object({ feeHead: z.string().nullable(), collectedMinor: AmountMinor })),
  /** Net collected per local day, the 30 days ending today, zeros included. */
  trend: z.array(z.object({ date: IsoDate, collectedMinor: AmountMinor })),
});
export type SchoolDashboard = z.infer<typeof SchoolDashboard>;

/** `GET /api/analytics/dashboard` by a platform admin without `schoolId`: totals across schools, per currency. */
export const PlatformDashboard = z.object({
  currencies: z.array(DashboardTotals.extend({ currency: CurrencyCode, schools: z.number().int() })),
});
export type PlatformDashboard = z.infer<typeof PlatformDashboard>;
export const Dashboard = z.union([SchoolDashboard, PlatformDashboard]);
export type Dashboard = z.infer<typeof Dashboard>;

export const AnalyticsCollectionsQuery = z
  .strictObject({
    ...SchoolQuery,
    from: IsoDate,
    to: IsoDate,
    granularity: ReportGranularity.default('day'),
    classId: Id.optional(),
    feeHead: FeeHead.optional(),
  })
  .superRefine(checkRange);
export type AnalyticsCollectionsQuery = z.infer<typeof AnalyticsCollectionsQuery>;

export const AnalyticsStudentsQuery = PaginationQuery.extend({
  ...SchoolQuery,
  sort: z.enum(['balance', 'paid', 'name']).default('balance'),
  order: z.enum(['asc', 'desc']).optional(),
}).strict();
export type AnalyticsStudentsQuery = z.infer<typeof AnalyticsStudentsQuery>;

export const StudentAnalytics = z.object({
  studentId: Id,
  admissionNo: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  classId: Id.nullable(),
  status: z.string(),
  invoicedMinor: AmountMinor,
  paidMinor: AmountMinor,
  refundedMinor: AmountMinor,
  balanceMinor: AmountMinor,
  creditMinor: AmountMinor,
});
export type StudentAnalytics = z.infer<typeof StudentAnalytics>;
export const StudentAnalyticsList = paginated(StudentAnalytics).extend({ currency: CurrencyCode });
export type StudentAnalyticsList = z.infer<typeof StudentAnalyticsList>;

export const AnalyticsFeeHeadsQuery = PaginationQuery.extend(SchoolQuery).strict();
export type AnalyticsFeeHeadsQuery = z.infer<typeof AnalyticsFeeHeadsQuery>;
export const FeeHeadAnalytics = z.object({
  feeHead: z.string().nullable(),
  invoicedMinor: AmountMinor,
  /** Collected net of refunds, split over an invoice's lines in proportion to their amounts. */
  collectedMinor: AmountMinor,
  outstandingMinor: AmountMinor,
  collectionRatePercent: Percent,
});
export type FeeHeadAnalytics = z.infer<typeof FeeHeadAnalytics>;
export const FeeHeadAnalyticsList = paginated(FeeHeadAnalytics).extend({ currency: CurrencyCode });
export type FeeHeadAnalyticsList = z.infer<typeof FeeHeadAnalyticsList>;
