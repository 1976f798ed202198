import { z } from 'zod';

/** Every BullMQ queue in Bursar: the only queues a job may name. */
export const QueueName = z.enum([
  'payments',
  'invoice-pdf',
  'kpi-report',
  'whatsapp-campaign',
  'whatsapp-send',
  'ai-drafts',
]);
export type QueueName = z.infer<typeof QueueName>;

/**
 * A job kind: its name, which queue it runs on, its payload schema and
 * version, how it retries, and how its deterministic `jobId` is derived from
 * the payload (so enqueuing the same work twice is a no-op). Payloads carry
 * ids, never secrets or whole rows: processors re-read state.
 */
export interface JobDefinition<
  N extends string = string,
  Q extends QueueName = QueueName,
  S extends z.ZodType = z.ZodType,
> {
  /** The BullMQ job name; unique in the catalog, and the key the worker's processor table uses. */
  name: N;
  queue: Q;
  /** Bumped when the payload shape changes incompatibly; other versions are rejected as unrecoverable. */
  version: number;
  payload: S;
  attempts: number;
  backoff: { type: 'exponential' | 'fixed'; delay: number };
  /**
   * BullMQ priority (1 is the highest). A job without one goes ahead of every
   * prioritized job on its queue: bulk work (batch renders, campaign sends)
   * takes a priority so that one-off work (an invoice just paid, a receipt)
   * never waits behind it.
   */
  priority?: number;
  /**
   * Deterministic id, unique within the queue (start it with the job's name). BullMQ forbids
   * `:` in custom ids, so parts are joined with `.`.
   */
  jobId: (payload: z.infer<S>) => string;
}

/** Declares a job kind; the catalog below is where every one of them is listed. */
export function defineJob<N extends string, Q extends QueueName, S extends z.ZodType>(
  definition: JobDefinition<N, Q, S>,
): JobDefinition<N, Q, S> {
  return definition;
}

/** A set of job kinds keyed by their names. */
export type JobCatalog = { [name: string]: JobDefinition };

/**
 * Checks a catalog: each key is its job's name and each queue is one of
 * `QueueName` (the type says so too; this catches a cast). Throws at import
 * time, so a bad catalog never starts a process.
 */
export function defineCatalog<C extends { [K in keyof C]: JobDefinition<K & string> }>(catalog: C): C {
  for (const [key, definition] of Object.entries(catalog) as [string, JobDefinition][]) {
    if (definition.name !== key) throw new Error(`job catalog key ${key} names job ${definition.name}`);
    if (!QueueName.safeParse(definition.queue).success) {
      throw new Error(
        `job ${key} names queue ${definition.queue}, which is not one of ${QueueName.options.join(', ')}`,
      );
    }
  }
  return catalog;
}

/**
 * Apply one stored provider event (a `provider_events` row, by id): a payment
 * to its invoice through the ledger, a refund to its payment, anything it
 * cannot match to the reconciliation inbox. Enqueued through the outbox in the
 * transaction that stores the webhook. Many attempts with a growing delay:
 * a refund that arrives before its capture waits for it (up to about a day).
 */
export const applyPaymentEvent = defineJob({
  name: 'payment-event.apply',
  queue: 'payments',
  version: 1,
  payload: z.strictObject({ eventId: z.uuid() }),
  attempts: 12,
  backoff: { type: 'exponential', delay: 2_000 },
  jobId: ({ eventId }) => `payment-event.${eventId}`,
});

/** Why a document job was asked for: `tx<txid>` from the database triggers, `request.<uuid>` from the api. */
const Revision = z.string().regex(/^[A-Za-z0-9._-]{1,80}$/);

/**
 * Render an invoice's PDF as the invoice is now and store it as a new
 * version, unless the latest version was rendered from the same state.
 * Enqueued by database triggers in the transaction of any change an invoice
 * shows (issue, payment, credit, refund, void, edits), and by
 * `POST /api/invoices/:id/pdf`. An invoice that is gone fails unrecoverably;
 * storage errors retry with backoff.
 */
export const renderInvoicePdf = defineJob({
  name: 'invoice-pdf.render',
  queue: 'invoice-pdf',
  version: 1,
  payload: z.strictObject({ invoiceId: z.uuid(), schoolId: z.uuid(), revision: Revision }),
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  jobId: ({ invoiceId, revision }) => `invoice-pdf.render.${invoiceId}.${revision}`,
});

/** Render a payment's receipt PDF (on insert and when a refund changes it), like {@link renderInvoicePdf}. */
export const renderReceiptPdf = defineJob({
  name: 'receipt-pdf.render',
  queue: 'invoice-pdf',
  version: 1,
  payload: z.strictObject({ paymentId: z.uuid(), schoolId: z.uuid(), revision: Revision }),
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  jobId: ({ paymentId, revision }) => `receipt-pdf.render.${paymentId}.${revision}`,
});

/**
 * One invoice of a bulk render: makes sure the invoice's current PDF is
 * stored (rendering it only if needed), then marks the batch item done with
 * that version, once. Behind one-off renders on the queue.
 */
export const renderPdfBatchItem = defineJob({
  name: 'pdf-batch.item',
  queue: 'invoice-pdf',
  version: 1,
  payload: z.strictObject({ batchId: z.uuid(), invoiceId: z.uuid() }),
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  priority: 10,
  jobId: ({ batchId, invoiceId }) => `pdf-batch.item.${batchId}.${invoiceId}`,
});

/**
 * Reports a bulk render's progress on its own job (for the job dashboard)
 * until every item is done or failed: it wakes every second or so without
 * holding a worker slot in between.
 */
export const trackPdfBatch = defineJob({
  name: 'pdf-batch.track',
  queue: 'invoice-pdf',
  version: 1,
  payload: z.strictObject({ batchId: z.uuid() }),
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  jobId: ({ batchId }) => `pdf-batch.track.${batchId}`,
});

/**
 * Every job in Bursar. Each job arrives in the same change as its processor
 * (payments, PDFs, WhatsApp, reports), and the worker's processor table must
 * name it or the worker does not typecheck.
 */
export const JOBS = defineCatalog({
  'payment-event.apply': applyPaymentEvent,
  'invoice-pdf.render': renderInvoicePdf,
  'receipt-pdf.render': renderReceiptPdf,
  'pdf-batch.item': renderPdfBatchItem,
  'pdf-batch.track': trackPdfBatch,
});

/** What a job's `data` holds in Redis: the versioned payload plus W3C trace context. */
export const JobEnvelope = z.object({
  v: z.number().int(),
  payload: z.unknown(),
  trace: z.record(z.string(), z.string()).default({}),
  /** The outbox row the job came from, so the worker can mark it completed (absent for direct enqueues). */
  outboxId: z.string().optional(),
});
export type JobEnvelope = z.infer<typeof JobEnvelope>;
