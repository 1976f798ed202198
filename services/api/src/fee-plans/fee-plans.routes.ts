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
import { actorOf } from '../audit/audit.repository.js';
import { readScope } from '../tenancy.js';
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
        errors: ['conflict'],
      },
      ({ body, req }) => createFeePlan(db, actorOf(req), body),
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
        return issueFeePlanById(db, actorOf(req), readScope(caller), params.id, body);
      },
    ),
  );
  return router;
}
