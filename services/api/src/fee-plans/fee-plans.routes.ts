import { Router } from 'express';
import { CreateFeePlanBody, IdParams, IssueFeePlanBody, ListQuery } from '@bursar/contracts';
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
    route({ body: CreateFeePlanBody, status: 201 }, ({ body, req }) => {
      const caller = callerOf(req);
      const { schoolId, ...plan } = body;
      return createFeePlan(db, { caller, requestId: req.requestId }, writeSchool(caller, schoolId), plan);
    }),
  );
  router.get(
    '/api/fee-plans',
    authenticate,
    requirePermission('fee_plans:read'),
    route({ query: ListQuery }, ({ query, req }) => listFeePlans(db, readScope(callerOf(req), query.schoolId), query)),
  );
  router.get(
    '/api/fee-plans/:id',
    authenticate,
    requirePermission('fee_plans:read'),
    route({ params: IdParams }, ({ params, req }) => findFeePlan(db, readScope(callerOf(req)), params.id)),
  );
  router.post(
    '/api/fee-plans/:id/issue',
    authenticate,
    requirePermission('invoices:write'),
    route({ params: IdParams, body: IssueFeePlanBody }, ({ params, body, req }) => {
      const caller = callerOf(req);
      return issueFeePlanById(db, { caller, requestId: req.requestId }, readScope(caller), params.id, body);
    }),
  );
  return router;
}
