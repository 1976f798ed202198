import { AppError } from '@bursar/contracts';
import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import { isUniqueViolation } from './sql.js';

export interface StoredResponse {
  status: number;
  body: unknown;
}

function hashRequest(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * Runs `work` at most once per (school, scope, Idempotency-Key). The key row
 * is written in the same transaction as the work, so either both commit or
 * neither does. A replay with the same request gets the original response;
 * the same key with a different request is 422. Two concurrent requests with
 * one key: the second waits on the key's unique index, fails, and replays.
 */
export async function withIdempotency(
  db: Kysely<DB>,
  key: { schoolId: string; scope: string; key: string; request: unknown },
  work: (trx: Transaction<DB>) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const requestHash = hashRequest(key.request);
  const replay = async (): Promise<(StoredResponse & { replayed: boolean }) | undefined> => {
    const stored = await db
      .selectFrom('idempotencyKeys')
      .select(['requestHash', 'responseStatus', 'responseBody'])
      .where('schoolId', '=', key.schoolId)
      .where('scope', '=', key.scope)
      .where('key', '=', key.key)
      .executeTakeFirst();
    if (!stored) return undefined;
    if (stored.requestHash !== requestHash) {
      throw new AppError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used for a different request; use a new key for a new payment',
      );
    }
    return { status: stored.responseStatus, body: stored.responseBody, replayed: true };
  };

  const earlier = await replay();
  if (earlier) return earlier;
  try {
    const response = await db.transaction().execute(async (trx) => {
      const result = await work(trx);
      await trx
        .insertInto('idempotencyKeys')
        .values({
          schoolId: key.schoolId,
          scope: key.scope,
          key: key.key,
          requestHash,
          responseStatus: result.status,
          responseBody: JSON.stringify(result.body),
        })
        .execute();
      return result;
    });
    return { ...response, replayed: false };
  } catch (error) {
    if (!isUniqueViolation(error, 'idempotency_keys_pkey')) throw error;
    const raced = await replay();
    if (!raced) throw error;
    return raced;
  }
}
