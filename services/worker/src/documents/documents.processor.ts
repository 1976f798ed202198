import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Kysely, Transaction } from 'kysely';
import { JOBS } from '@bursar/contracts';
import { enqueue, type OutboxRelay } from '@bursar/platform';
import type { DB } from '@bursar/db';
import {
  publishInvoiceDocument,
  publishInvoiceDocuments,
  publishReceiptDocument,
  type PublishDeps,
  type StoredDocument,
} from '@bursar/documents';
import {
  finishBatchItems,
  findPendingItems,
  readBatchProgress,
  type ItemOutcome,
} from './batches.repository.js';

/** What the document processors use (typed on that, so this module does not import the processor table). */
export interface DocumentContext {
  db: Kysely<DB>;
  documents: PublishDeps;
  outbox: Pick<OutboxRelay, 'kick'>;
  job: Job;
}

/** How long the batch tracker sleeps between looks at its batch. */
export const TRACK_INTERVAL_MS = 1_000;

/** Whether a failure of this attempt is the job's last (no retry follows). */
function isLastAttempt(job: Job, error: unknown): boolean {
  return error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * `invoice-pdf.render`: the invoice's current PDF, stored as a new version
 * unless nothing it shows has changed. A storage failure throws and retries
 * with the job's backoff; an invoice that no longer exists fails for good.
 *
 * The WhatsApp message a first version asks for is handed over by the
 * relay's next sweep (every two seconds), not by a kick per invoice: invoices
 * are issued by the class or the term, and a relay pass per PDF (a Redis
 * read, a transaction, a queue add) is work done a hundred times over for
 * messages a guardian does not miss by a second or two.
 */
export async function processInvoicePdf(
  { invoiceId }: { invoiceId: string },
  { documents }: Pick<DocumentContext, 'documents'>,
): Promise<{ version: number; rendered: boolean; pages: number }> {
  const result = await publishInvoiceDocument(documents, invoiceId, (trx, document) =>
    announceFirstVersion(trx, document, 'invoice'),
  );
  if (!result) throw new UnrecoverableError(`invoice ${invoiceId} no longer exists`);
  return { version: result.document.version, rendered: result.rendered, pages: result.document.pages };
}

/**
 * The first version of an invoice (it was just issued) or of a receipt (a
 * payment just applied) is what the guardian is sent on WhatsApp, with the
 * PDF: the message is asked for in the transaction that stores it.
 */
async function announceFirstVersion(
  trx: Transaction<DB>,
  document: StoredDocument,
  purpose: 'invoice' | 'receipt',
): Promise<void> {
  if (document.version !== 1) return;
  await enqueue(trx, JOBS['whatsapp.transactional'], { purpose, subjectId: document.subjectId });
}

/**
 * `receipt-pdf.render`: the payment's receipt, like {@link processInvoicePdf};
 * its message is handed over at once (one payment at a time, and the payer is
 * waiting for it).
 */
export async function processReceiptPdf(
  { paymentId }: { paymentId: string },
  { documents, outbox }: Pick<DocumentContext, 'documents'> & Partial<Pick<DocumentContext, 'outbox'>>,
): Promise<{ version: number; rendered: boolean }> {
  const result = await publishReceiptDocument(documents, paymentId, (trx, document) =>
    announceFirstVersion(trx, document, 'receipt'),
  );
  if (!result) throw new UnrecoverableError(`payment ${paymentId} no longer exists`);
  if (result.document.version === 1) void outbox?.kick();
  return { version: result.document.version, rendered: result.rendered };
}

/**
 * `pdf-batch.chunk`: a run of a bulk render's invoices, each one's current
 * PDF (rendered only if nothing stored shows its state yet) and its item
 * marked done with that version, all in one transaction: a chunk costs a
 * handful of statements, not a handful per invoice. An item already finished
 * (the job ran again after a crash) is left as it is, so nothing is counted
 * or zipped twice; an invoice deleted since the batch was made fails at once
 * with that reason.
 *
 * When the chunk fails (storage down, an invoice that cannot be rendered) it
 * retries whole with the job's backoff; on its last attempt the invoices go
 * one at a time instead, so one that cannot be rendered fails alone, with its
 * reason, and the batch still completes.
 */
export async function processPdfBatchChunk(
  { batchId, invoiceIds }: { batchId: string; invoiceIds: string[] },
  { db, documents, job }: DocumentContext,
): Promise<{ done: number; failed: number }> {
  const pending = await findPendingItems(db, batchId, invoiceIds);
  const tally = { done: 0, failed: 0 };
  const finish = async (
    trx: Transaction<DB> | Kysely<DB>,
    items: typeof pending,
    stored: Map<string, StoredDocument>,
  ) => {
    const outcomes = items.map((item): ItemOutcome =>
      stored.has(item.invoiceId)
        ? { invoiceId: item.invoiceId, documentId: stored.get(item.invoiceId)!.id }
        : { invoiceId: item.invoiceId, error: `invoice ${item.invoiceNumber} no longer exists` },
    );
    await finishBatchItems(trx, batchId, outcomes);
    for (const outcome of outcomes) tally['error' in outcome ? 'failed' : 'done'] += 1;
  };
  if (pending.length === 0) return tally;
  try {
    await publishInvoiceDocuments(
      documents,
      pending.map((item) => item.invoiceId),
      (trx, stored) => finish(trx, pending, stored),
    );
    return tally;
  } catch (error) {
    if (!isLastAttempt(job, error)) throw error;
  }
  tally.done = tally.failed = 0;
  for (const item of pending) {
    try {
      await publishInvoiceDocuments(documents, [item.invoiceId], (trx, stored) =>
        finish(trx, [item], stored),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await finishBatchItems(db, batchId, [{ invoiceId: item.invoiceId, error: reason.slice(0, 500) }]);
      tally.failed += 1;
    }
  }
  return tally;
}

/**
 * `pdf-batch.track`: puts the batch's progress on this job (what the job
 * dashboard shows) and, until the batch completes, moves itself back to the
 * delayed set for a second instead of holding a worker slot.
 */
export async function processPdfBatchTracker(
  { batchId }: { batchId: string },
  { db, job }: Pick<DocumentContext, 'db' | 'job'>,
): Promise<{ total: number; done: number; failed: number }> {
  const batch = await readBatchProgress(db, batchId);
  if (!batch) throw new UnrecoverableError(`batch ${batchId} does not exist`);
  const { total, done, failed } = batch;
  await job.updateProgress({ total, done, failed, percent: Math.floor(((done + failed) * 100) / total) });
  if (batch.status === 'completed') return { total, done, failed };
  await job.moveToDelayed(Date.now() + TRACK_INTERVAL_MS, job.token);
  throw new DelayedError();
}
