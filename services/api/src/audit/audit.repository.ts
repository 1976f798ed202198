import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditEntry as AuditRecord, AuditQuery, Paginated } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { callerOf, type AuthContext } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

/** bigint (money) is written as a JSON number; it is always within the safe range (see MAX_AMOUNT_MINOR). */
function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
  );
}

/** Who is writing: the verified caller and the request id, as the audit trail records them. */
export interface Actor {
  caller: AuthContext;
  requestId?: string;
}

/** The actor of a request (401 if the route forgot `authenticate`). */
export function actorOf(req: { auth?: AuthContext; requestId: string }): Actor {
  return { caller: callerOf(req), requestId: req.requestId };
}

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId: string;
  schoolId: string | null;
  before?: unknown;
  after?: unknown;
}

/**
 * Appends one audit row in the caller's transaction, so the record and the
 * change commit together. The table refuses updates and deletes.
 */
export async function recordAudit(db: Db, actor: Actor, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('auditLog')
    .values({
      schoolId: entry.schoolId,
      actorId: actor.caller.userId,
      actorRole: actor.caller.role,
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId,
      before: entry.before === undefined ? null : JSON.stringify(jsonSafe(entry.before)),
      after: entry.after === undefined ? null : JSON.stringify(jsonSafe(entry.after)),
      requestId: actor.requestId ?? null,
    })
    .execute();
}

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
