import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Kysely, Transaction } from 'kysely';
import { JOBS } from '@bursar/contracts';
import { enqueue, type OutboxRelay } from '@bursar/platform';
import type { DB } from '@bursar/db';
import {
  publishInvoiceDocument,
  publishReceiptDocument,
  type PublishDeps,
  type StoredDocument,
} from '@bursar/documents';
import { finishBatchItem, findBatchItem, readBatchProgress } from './batches.repository.js';

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
 */
export async function processInvoicePdf(
  { invoiceId }: { invoiceId: string },
  { documents, outbox }: Pick<DocumentContext, 'documents'> & Partial<Pick<DocumentContext, 'outbox'>>,
): Promise<{ version: number; rendered: boolean; pages: number }> {
  const result = await publishInvoiceDocument(documents, invoiceId, (trx, document) =>
    announceFirstVersion(trx, document, 'invoice'),
  );
  if (!result) throw new UnrecoverableError(`invoice ${invoiceId} no longer exists`);
  if (result.document.version === 1) void outbox?.kick();
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

/** `receipt-pdf.render`: the payment's receipt, like {@link processInvoicePdf}. */
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
 * `pdf-batch.item`: the invoice's current PDF for a bulk render (rendered only
 * if nothing stored shows its state yet), and the item marked done with that
 * version in the same transaction. An item already finished (the job ran
 * again after a crash) is left as it is, so nothing is counted or zipped
 * twice. On the last attempt the item is marked failed with the reason, so
 * the batch still completes and says which invoice failed and why.
 */
export async function processPdfBatchItem(
  { batchId, invoiceId }: { batchId: string; invoiceId: string },
  { db, documents, job }: DocumentContext,
): Promise<{ status: string; version?: number }> {
  const item = await findBatchItem(db, batchId, invoiceId);
  if (!item) throw new UnrecoverableError(`batch ${batchId} has no invoice ${invoiceId}`);
  if (item.status !== 'pending') return { status: item.status };
  try {
    const result = await publishInvoiceDocument(documents, invoiceId, async (trx, document) => {
      await finishBatchItem(trx, batchId, invoiceId, { documentId: document.id });
    });
    if (!result) throw new UnrecoverableError(`invoice ${item.invoiceNumber} no longer exists`);
    return { status: 'done', version: result.document.version };
  } catch (error) {
    if (isLastAttempt(job, error)) {
      const reason = error instanceof Error ? error.message : String(error);
      await finishBatchItem(db, batchId, invoiceId, { error: reason.slice(0, 500) });
    }
    throw error;
  }
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
