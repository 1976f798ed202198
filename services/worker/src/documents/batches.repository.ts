import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

/** One item of a batch, by invoice. */
export function findBatchItem(db: Kysely<DB>, batchId: string, invoiceId: string) {
  return db
    .selectFrom('pdfBatchItems')
    .select(['status', 'invoiceNumber'])
    .where('batchId', '=', batchId)
    .where('invoiceId', '=', invoiceId)
    .executeTakeFirst();
}

/**
 * Moves an item from pending to done (with the version rendered for the batch)
 * or failed (with why), and the batch's counters with it, in one transaction.
 * Only a pending item moves, so a repeated job counts nothing; the last item
 * to finish completes the batch.
 */
export async function finishBatchItem(
  db: Kysely<DB> | Transaction<DB>,
  batchId: string,
  invoiceId: string,
  outcome: { documentId: string } | { error: string },
): Promise<boolean> {
  const failed = 'error' in outcome;
  const inTransaction = async (trx: Kysely<DB> | Transaction<DB>) => {
    const moved = await trx
      .updateTable('pdfBatchItems')
      .set({
        status: failed ? 'failed' : 'done',
        documentId: failed ? null : BigInt(outcome.documentId),
        error: failed ? outcome.error : null,
        finishedAt: sql<Date>`now()`,
      })
      .where('batchId', '=', batchId)
      .where('invoiceId', '=', invoiceId)
      .where('status', '=', 'pending')
      .returning('position')
      .executeTakeFirst();
    if (!moved) return false;
    await trx
      .updateTable('pdfBatches')
      .set((eb) => ({
        done: failed ? eb.ref('done') : eb('done', '+', 1),
        failed: failed ? eb('failed', '+', 1) : eb.ref('failed'),
        status: sql<string>`case when done + failed + 1 >= total then 'completed' else status end`,
        finishedAt: sql<Date>`case when done + failed + 1 >= total then now() else finished_at end`,
      }))
      .where('id', '=', batchId)
      .execute();
    return true;
  };
  return db.isTransaction ? inTransaction(db) : db.transaction().execute(inTransaction);
}

/** A batch's counters and status. */
export function readBatchProgress(db: Kysely<DB>, batchId: string) {
  return db
    .selectFrom('pdfBatches')
    .select(['status', 'total', 'done', 'failed'])
    .where('id', '=', batchId)
    .executeTakeFirst();
}
