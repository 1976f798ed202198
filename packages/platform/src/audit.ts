import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type { Caller } from './auth.js';

type Db = Kysely<DB> | Transaction<DB>;

/** Who is writing: the verified caller and the request id, as the audit trail records them. */
export interface Actor {
  caller: Caller;
  requestId?: string;
}

/**
 * A process acting on its own (the payments worker applying a provider event):
 * recorded with no user (`actor_id` null) and `system:<name>` as the role.
 */
export interface SystemActor {
  system: string;
}

/** One change, as the audit trail records it. */
export interface AuditEntry {
  action: string;
  entityType: string;
  entityId: string;
  schoolId: string | null;
  before?: unknown;
  after?: unknown;
}

/** bigint (money) is written as a JSON number; it is always within the safe range (see MAX_AMOUNT_MINOR). */
function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
  );
}

/**
 * Appends one audit row in the caller's transaction, so the record and the
 * change commit together. The table refuses updates and deletes. Every
 * service writes the trail through this one function.
 */
export async function recordAudit(db: Db, actor: Actor | SystemActor, entry: AuditEntry): Promise<void> {
  const system = 'system' in actor;
  await db
    .insertInto('auditLog')
    .values({
      schoolId: entry.schoolId,
      actorId: system ? null : actor.caller.userId,
      actorRole: system ? `system:${actor.system}` : actor.caller.role,
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId,
      before: entry.before === undefined ? null : JSON.stringify(jsonSafe(entry.before)),
      after: entry.after === undefined ? null : JSON.stringify(jsonSafe(entry.after)),
      requestId: system ? null : (actor.requestId ?? null),
    })
    .execute();
}
