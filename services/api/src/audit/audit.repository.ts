import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type { AuthContext } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

/** bigint (money) is written as a JSON number; it is always within the safe range (see MAX_AMOUNT_MINOR). */
function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
  );
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
export async function recordAudit(
  db: Db,
  actor: { caller: AuthContext; requestId?: string },
  entry: AuditEntry,
): Promise<void> {
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
