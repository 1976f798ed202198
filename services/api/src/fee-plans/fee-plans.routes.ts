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
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createFeePlan, findFeePlan, issueFeePlanById, listFeePlans } from './fee-plans.service.js';

export function feePlansRoutes({ db }: ApiContext): Router {
  const router = Router();
  router.post(
    '/api/fee-plans',
    route(
      {
        permission: 'fee_plans:write',
        body: CreateFeePlanBody,
        status: 201,
        response: FeePlan,
        summary: 'Create a fee plan (heads and instalments)',
        tags: ['fee-plans'],
        errors: ['conflict'],
      },
      ({ body, actor }) => createFeePlan(db, actor, body),
    ),
  );
  router.get(
    '/api/fee-plans',
    route(
      {
        permission: 'fee_plans:read',
        query: ListQuery,
        response: FeePlanList,
        summary: 'List fee plans',
        tags: ['fee-plans'],
      },
      ({ query, caller }) => listFeePlans(db, readScope(caller, query.schoolId), query),
    ),
  );
  router.get(
    '/api/fee-plans/:id',
    route(
      {
        permission: 'fee_plans:read',
        params: IdParams,
        response: FeePlan,
        summary: 'Get a fee plan',
        tags: ['fee-plans'],
      },
      ({ params, caller }) => findFeePlan(db, readScope(caller), params.id),
    ),
  );
  router.post(
    '/api/fee-plans/:id/issue',
    route(
      {
        permission: 'invoices:write',
        params: IdParams,
        body: IssueFeePlanBody,
        response: IssueFeePlanResult,
        summary: "Issue a fee plan's invoices to a class or to students (repeats are skipped)",
        tags: ['fee-plans'],
      },
      ({ params, body, caller, actor }) => {
        return issueFeePlanById(db, actor, readScope(caller), params.id, body);
      },
    ),
  );
  return router;
}
