import { Router } from 'express';
import {
  CreateReportBody,
  CreateReportScheduleBody,
  IdParams,
  ListReportSchedulesQuery,
  ListReportsQuery,
  Report,
  ReportAccepted,
  ReportCsvQuery,
  ReportList,
  ReportSchedule,
  ReportScheduleList,
} from '@bursar/contracts';
import { renderReportPdf } from '@bursar/documents';
import { route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import {
  createReportSchedule,
  deleteReportSchedule,
  exportName,
  getReport,
  getReportSchedule,
  listReports,
  listReportSchedules,
  reportForExport,
  requestReport,
  sendReportCsv,
} from './reports.service.js';

export function reportsRoutes(context: ApiContext): Router {
  const { db } = context;
  const router = Router();

  router.post(
    '/api/reports',
    route(
      {
        permission: 'reports:write',
        body: CreateReportBody,
        status: 202,
        response: ReportAccepted,
        summary: 'Ask for a KPI report (collections, aging, forecast), computed by the worker',
        description:
          'The same request while an identical report is queued, running, or succeeded with no money moved in the ' +
          'school since, answers that report (`deduplicated: true`) instead of computing another. Poll ' +
          '`GET /api/reports/{id}`.',
        tags: ['reports'],
        errors: ['not_found'],
      },
      ({ body, caller }) => requestReport(context, caller, body),
    ),
  );

  router.get(
    '/api/reports',
    route(
      {
        permission: 'reports:read',
        query: ListReportsQuery,
        response: ReportList,
        summary: "A school's reports, newest first (without their results)",
        tags: ['reports'],
      },
      ({ query, caller }) => listReports(db, caller, query),
    ),
  );

  router.get(
    '/api/reports/:id',
    route(
      {
        permission: 'reports:read',
        params: IdParams,
        response: Report,
        summary: 'A report: its status and progress, then its result or its error',
        tags: ['reports'],
        errors: ['not_found'],
      },
      ({ params, caller }) => getReport(db, caller, params.id),
    ),
  );

  router.get(
    '/api/reports/:id/export.csv',
    route(
      {
        permission: 'reports:read',
        params: IdParams,
        query: ReportCsvQuery,
        responseType: 'text/csv',
        summary: "A succeeded report's table as CSV (one row per period or line, money as decimal strings)",
        description:
          'Reports with several tables (aging: `buckets`, `defaulters`) take `section`; the first by default.',
        tags: ['reports'],
        errors: ['not_found', 'conflict'],
      },
      ({ params, query, caller, res }) => sendReportCsv(db, caller, params.id, query.section, res),
    ),
  );

  router.get(
    '/api/reports/:id/export.pdf',
    route(
      {
        permission: 'reports:read',
        params: IdParams,
        responseType: 'application/pdf',
        summary: 'A succeeded report as a PDF: a chart of its main series, then its tables',
        tags: ['reports'],
        errors: ['not_found', 'conflict'],
      },
      async ({ params, caller, res }) => {
        const { report, school, module, tables, chart } = await reportForExport(db, caller, params.id);
        const params_ = report.params;
        const pdf = await renderReportPdf({
          title: module.title,
          schoolName: school.name,
          subtitle:
            params_.kind === 'collections'
              ? `${params_.from} to ${params_.to}, by ${params_.granularity}`
              : `As of ${params_.asOf}`,
          currency: school.currency,
          locale: school.locale,
          chart,
          tables,
        });
        res.status(200);
        res.setHeader('Content-Type', 'application/pdf');
        res.setHeader('Content-Disposition', `inline; filename="${exportName(report, 'pdf')}"`);
        res.setHeader('Cache-Control', 'private, no-store');
        res.send(pdf);
      },
    ),
  );

  router.post(
    '/api/report-schedules',
    route(
      {
        permission: 'reports:write',
        body: CreateReportScheduleBody,
        status: 201,
        response: ReportSchedule,
        summary: "Compute a report on a cron, in the school's time zone (at most hourly)",
        tags: ['reports'],
        errors: ['not_found'],
      },
      ({ body, caller }) => createReportSchedule(db, caller, body),
    ),
  );

  router.get(
    '/api/report-schedules',
    route(
      {
        permission: 'reports:read',
        query: ListReportSchedulesQuery,
        response: ReportScheduleList,
        summary: "A school's report schedules",
        tags: ['reports'],
      },
      ({ query, caller }) => listReportSchedules(db, caller, query),
    ),
  );

  router.get(
    '/api/report-schedules/:id',
    route(
      {
        permission: 'reports:read',
        params: IdParams,
        response: ReportSchedule,
        summary: 'A report schedule and its next run',
        tags: ['reports'],
        errors: ['not_found'],
      },
      ({ params, caller }) => getReportSchedule(db, caller, params.id),
    ),
  );

  router.delete(
    '/api/report-schedules/:id',
    route(
      {
        permission: 'reports:write',
        params: IdParams,
        status: 204,
        summary: 'Stop a report schedule (the reports it made stay)',
        tags: ['reports'],
        errors: ['not_found'],
      },
      async ({ params, caller }) => {
        await deleteReportSchedule(db, caller, params.id);
      },
    ),
  );

  return router;
}
