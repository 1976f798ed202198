import { Router } from 'express';
import {
  CreateFeePlanBody,
  FeePlan,
  FeePlanList,
  IdParams,
  IssueFeePlanBody,
  IssueFeePlanResult,
  ListQuery,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { readScope, writeSchool } from '../tenancy.js';
import { createFeePlan, findFeePlan, issueFeePlanById, listFeePlans } from './fee-plans.service.js';

export function feePlansRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();
  router.post(
    '/api/fee-plans',
    authenticate,
    requirePermission('fee_plans:write'),
    route(
      {
        body: CreateFeePlanBody,
        status: 201,
        response: FeePlan,
        summary: 'Create a fee plan (heads and instalments)',
        tags: ['fee-plans'],
        // not_found: a platform admin named a school that does not exist.
        errors: ['conflict', 'not_found'],
      },
      ({ body, req }) => {
        const caller = callerOf(req);
        const { schoolId, ...plan } = body;
        return createFeePlan(db, { caller, requestId: req.requestId }, writeSchool(caller, schoolId), plan);
      },
    ),
  );
  router.get(
    '/api/fee-plans',
    authenticate,
    requirePermission('fee_plans:read'),
    route(
      { query: ListQuery, response: FeePlanList, summary: 'List fee plans', tags: ['fee-plans'] },
      ({ query, req }) => listFeePlans(db, readScope(callerOf(req), query.schoolId), query),
    ),
  );
  router.get(
    '/api/fee-plans/:id',
    authenticate,
    requirePermission('fee_plans:read'),
    route(
      { params: IdParams, response: FeePlan, summary: 'Get a fee plan', tags: ['fee-plans'] },
      ({ params, req }) => findFeePlan(db, readScope(callerOf(req)), params.id),
    ),
  );
  router.post(
    '/api/fee-plans/:id/issue',
    authenticate,
    requirePermission('invoices:write'),
    route(
      {
        params: IdParams,
        body: IssueFeePlanBody,
        response: IssueFeePlanResult,
        summary: "Issue a fee plan's invoices to a class or to students (repeats are skipped)",
        tags: ['fee-plans'],
      },
      ({ params, body, req }) => {
        const caller = callerOf(req);
        return issueFeePlanById(db, { caller, requestId: req.requestId }, readScope(caller), params.id, body);
      },
    ),
  );
  return router;
}
