import { Router } from 'express';
import {
  AnalyticsCollectionsQuery,
  AnalyticsFeeHeadsQuery,
  AnalyticsStudentsQuery,
  CollectionsResult,
  Dashboard,
  DashboardQuery,
  FeeHeadAnalyticsList,
  StudentAnalyticsList,
} from '@bursar/contracts';
import { route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createAnalyticsCache } from './analytics.cache.js';
import {
  getCollections,
  getDashboard,
  getFeeHeadAnalytics,
  getStudentAnalytics,
  type AnalyticsDeps,
} from './analytics.service.js';

const CACHED =
  'Cached per school until its money next changes (a payment shows in the next read); answered from the ' +
  'database alone when the cache is unavailable.';

export function analyticsRoutes(context: ApiContext): Router {
  const deps: AnalyticsDeps = {
    db: context.db,
    cache: createAnalyticsCache({
      redis: context.redis,
      prefix: context.config.QUEUE_PREFIX,
      logger: context.logger,
    }),
  };
  const router = Router();

  router.get(
    '/api/analytics/dashboard',
    route(
      {
        permission: 'reports:read',
        query: DashboardQuery,
        response: Dashboard,
        summary:
          "A school's money today: totals, today's and this month's collections, top fee heads, 30-day trend",
        description:
          'Staff see their own school. A platform admin names one with `schoolId`, or without it gets the ' +
          `totals of every school per currency (each school's today in its own time zone). ${CACHED}`,
        tags: ['analytics'],
        errors: ['not_found'],
      },
      ({ query, caller }) => getDashboard(deps, caller, query),
    ),
  );

  router.get(
    '/api/analytics/collections',
    route(
      {
        permission: 'reports:read',
        query: AnalyticsCollectionsQuery,
        response: CollectionsResult,
        summary: 'Collections per day, week, month or term from `from` to `to` (local dates, inclusive)',
        description: `The collections report, answered at once (\`POST /api/reports\` computes it in the background). ${CACHED}`,
        tags: ['analytics'],
        errors: ['not_found'],
      },
      ({ query, caller }) => getCollections(deps, caller, query),
    ),
  );

  router.get(
    '/api/analytics/students',
    route(
      {
        permission: 'reports:read',
        query: AnalyticsStudentsQuery,
        response: StudentAnalyticsList,
        summary: "A school's students by balance, amount paid or name, with their running totals",
        description: `Money sorts default to largest first, names to A–Z. ${CACHED}`,
        tags: ['analytics'],
        errors: ['not_found'],
      },
      ({ query, caller }) => getStudentAnalytics(deps, caller, query),
    ),
  );

  router.get(
    '/api/analytics/fee-heads',
    route(
      {
        permission: 'reports:read',
        query: AnalyticsFeeHeadsQuery,
        response: FeeHeadAnalyticsList,
        summary:
          "A school's fee heads: invoiced, collected, outstanding and collection rate, most collected first",
        description:
          "Each live invoice's amounts are split over its lines' fee heads in proportion to their amounts. " +
          CACHED,
        tags: ['analytics'],
        errors: ['not_found'],
      },
      ({ query, caller }) => getFeeHeadAnalytics(deps, caller, query),
    ),
  );

  return router;
}
