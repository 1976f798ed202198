import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

/** The items of a batch, among these invoices, that are still to render (in batch order). */
export function findPendingItems(db: Kysely<DB>, batchId: string, invoiceIds: readonly string[]) {
  return db
    .selectFrom('pdfBatchItems')
    .select(['invoiceId', 'invoiceNumber'])
    .where('batchId', '=', batchId)
    .where('invoiceId', 'in', [...invoiceIds])
    .where('status', '=', 'pending')
    .orderBy('position')
    .execute();
}

/** How an item ended: done with the version rendered for the batch, or failed with why. */
export type ItemOutcome = { invoiceId: string } & ({ documentId: string } | { error: string });

/**
 * Moves items from pending to done or failed, and the batch's counters with
 * them, in two statements whatever their number. Only a pending item moves,
 * so a repeated job counts nothing; the statement that moves the last items
 * completes the batch. Returns how many moved.
 */
export async function finishBatchItems(
  db: Kysely<DB> | Transaction<DB>,
  batchId: string,
  outcomes: readonly ItemOutcome[],
): Promise<number> {
  if (outcomes.length === 0) return 0;
  const inTransaction = async (trx: Kysely<DB> | Transaction<DB>) => {
    const moved = await sql<{ failed: boolean }>`
      update pdf_batch_items item
      set status = case when outcome.error is null then 'done' else 'failed' end,
          document_id = outcome.document_id,
          error = outcome.error,
          finished_at = now()
      from unnest(${outcomes.map((outcome) => outcome.invoiceId)}::uuid[],
                  ${outcomes.map((outcome) => ('documentId' in outcome ? outcome.documentId : null))}::bigint[],
                  ${outcomes.map((outcome) => ('error' in outcome ? outcome.error : null))}::text[])
        as outcome (invoice_id, document_id, error)
      where item.batch_id = ${batchId} and item.invoice_id = outcome.invoice_id and item.status = 'pending'
      returning outcome.error is not null as failed
    `.execute(trx);
    const failed = moved.rows.filter((row) => row.failed).length;
    const done = moved.rows.length - failed;
    if (moved.rows.length === 0) return 0;
    await trx
      .updateTable('pdfBatches')
      .set((eb) => ({
        done: eb('done', '+', done),
        failed: eb('failed', '+', failed),
        status: sql<string>`case when done + failed + ${moved.rows.length} >= total then 'completed' else status end`,
        finishedAt: sql<Date>`case when done + failed + ${moved.rows.length} >= total then now() else finished_at end`,
      }))
      .where('id', '=', batchId)
      .execute();
    return moved.rows.length;
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
