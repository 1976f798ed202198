import { Router } from 'express';
import { AuditList, AuditQuery } from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { readScope } from '../tenancy.js';
import { listAudit } from './audit.repository.js';

/** `GET /api/audit`: the append-only trail of writes, newest first, within the caller's school. */
export function auditRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();
  router.get(
    '/api/audit',
    authenticate,
    requirePermission('audit:read'),
    route(
      {
        query: AuditQuery,
        response: AuditList,
        summary: 'The audit trail of writes, newest first',
        tags: ['audit'],
      },
      ({ query, req }) => listAudit(db, readScope(callerOf(req), query.schoolId), query),
    ),
  );
  return router;
}
