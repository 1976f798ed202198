import { Router } from 'express';
import { AuditList, AuditQuery, type AuditEntry } from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { sql } from 'kysely';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { readScope } from '../tenancy.js';

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
      async ({ query, req }) => {
        const scope = readScope(callerOf(req), query.schoolId);
        let base = db.selectFrom('auditLog');
        if (scope) base = base.where('schoolId', '=', scope);
        if (query.entityType) base = base.where('entityType', '=', query.entityType);
        if (query.entityId) base = base.where('entityId', '=', query.entityId);
        const [rows, count] = await Promise.all([
          base.selectAll().orderBy('id', 'desc').limit(query.limit).offset(query.offset).execute(),
          base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
        ]);
        const data: AuditEntry[] = rows.map((row) => ({
          id: Number(row.id),
          schoolId: row.schoolId,
          actorId: row.actorId,
          actorRole: row.actorRole,
          action: row.action,
          entityType: row.entityType,
          entityId: row.entityId,
          before: row.before,
          after: row.after,
          requestId: row.requestId,
          createdAt: row.createdAt.toISOString(),
        }));
        return { data, pagination: { limit: query.limit, offset: query.offset, total: count.n } };
      },
    ),
  );
  return router;
}
