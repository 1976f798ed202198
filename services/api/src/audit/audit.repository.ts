import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditEntry as AuditRecord, AuditQuery, Paginated } from '@bursar/contracts';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

/** A page of the audit trail, newest first, within `scope` (every school when null). */
export async function listAudit(
  db: Db,
  scope: string | null,
  query: AuditQuery,
): Promise<Paginated<AuditRecord>> {
  let base = db.selectFrom('auditLog');
  if (scope) base = base.where('schoolId', '=', scope);
  if (query.entityType) base = base.where('entityType', '=', query.entityType);
  if (query.entityId) base = base.where('entityId', '=', query.entityId);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('id', 'desc').limit(query.limit).offset(query.offset).execute(),
    base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
  ]);
  const data = rows.map((row) => ({
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
}
