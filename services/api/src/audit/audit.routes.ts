import { Router } from 'express';
import { AuditList, AuditQuery } from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { listAudit } from './audit.repository.js';

/** `GET /api/audit`: the append-only trail of writes, newest first, within the caller's school. */
export function auditRoutes({ db }: ApiContext): Router {
  const router = Router();
  router.get(
    '/api/audit',
    route(
      {
        permission: 'audit:read',
        query: AuditQuery,
        response: AuditList,
        summary: 'The audit trail of writes, newest first',
        tags: ['audit'],
      },
      ({ query, caller }) => listAudit(db, readScope(caller, query.schoolId), query),
    ),
  );
  return router;
}
