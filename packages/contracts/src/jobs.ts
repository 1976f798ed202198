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
   * A priority per job, from its payload (overrides `priority`): campaign
   * sends take one by their place in the campaign, so two schools' campaigns
   * interleave instead of one waiting for the other to finish.
   */
  priorityOf?: (payload: z.infer<S>) => number | undefined;
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

/** Invoices per `pdf-batch.chunk` job: enough to share a transaction's statements, few enough to show progress. */
export const PDF_BATCH_CHUNK = 25;

/**
 * A run of a bulk render's invoices, in batch order: makes sure each
 * invoice's current PDF is stored (rendering it only if needed) and marks its
 * item done with that version, once, all in one transaction. Behind one-off
 * renders on the queue.
 */
export const renderPdfBatchChunk = defineJob({
  name: 'pdf-batch.chunk',
  queue: 'invoice-pdf',
  version: 1,
  payload: z.strictObject({ batchId: z.uuid(), invoiceIds: z.array(z.uuid()).min(1).max(PDF_BATCH_CHUNK) }),
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  priority: 10,
  jobId: ({ batchId, invoiceIds }) => `pdf-batch.chunk.${batchId}.${invoiceIds[0]}`,
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
 * Launch a campaign: resolve its audience once into recipient rows (opted-out
 * and invalid numbers recorded as excluded), then one `whatsapp.send` per
 * recipient through the outbox. Safe to repeat: recipients are unique per
 * campaign and guardian, sends per message.
 */
export const launchCampaign = defineJob({
  name: 'whatsapp-campaign.launch',
  queue: 'whatsapp-campaign',
  version: 1,
  payload: z.strictObject({ campaignId: z.uuid() }),
  attempts: 10,
  backoff: { type: 'exponential', delay: 2_000 },
  jobId: ({ campaignId }) => `whatsapp-campaign.launch.${campaignId}`,
});

/** How many campaign sends share one priority step (about a second of sending at the default rate). */
export const CAMPAIGN_SLOT_SIZE = 80;

/**
 * Send one message (a `whatsapp_messages` row). Paced by the send queue's rate
 * limit; transactional messages (no `slot`) carry no priority and so go ahead
 * of every campaign message; a campaign message's priority is its slot
 * (its place in the campaign / CAMPAIGN_SLOT_SIZE), so campaigns of several
 * schools take turns. The attempt is recorded before the provider is called
 * and never repeated blindly (see the processor).
 */
export const sendWhatsApp = defineJob({
  name: 'whatsapp.send',
  queue: 'whatsapp-send',
  version: 1,
  payload: z.strictObject({
    messageId: z.uuid(),
    slot: z.number().int().min(0).optional(),
    /** The campaign's round (bumped by each resume), so a send queued again gets a new job id. */
    round: z.number().int().min(0).default(0),
  }),
  attempts: 12,
  backoff: { type: 'exponential', delay: 5_000 },
  priorityOf: ({ slot }) => (slot === undefined ? undefined : Math.min(1 + slot, 2_000_000)),
  jobId: ({ messageId, round }) => `whatsapp.send.${messageId}.r${round}`,
});

/** Apply one stored WhatsApp webhook (`whatsapp_events` row): statuses, inbound STOP/START, template reviews. */
export const applyWhatsAppEvent = defineJob({
  name: 'whatsapp-event.apply',
  queue: 'whatsapp-campaign',
  version: 1,
  payload: z.strictObject({ eventId: z.uuid() }),
  attempts: 10,
  backoff: { type: 'exponential', delay: 2_000 },
  jobId: ({ eventId }) => `whatsapp-event.apply.${eventId}`,
});

/**
 * A transactional message about a document just stored: the invoice (with its
 * PDF and pay link) when first issued, the receipt when a payment applied.
 * Skipped, and said why, when the school has no approved template for it or
 * the guardian opted out (receipts excepted).
 */
export const sendTransactional = defineJob({
  name: 'whatsapp.transactional',
  queue: 'whatsapp-campaign',
  version: 1,
  payload: z.strictObject({ purpose: z.enum(['invoice', 'receipt']), subjectId: z.uuid() }),
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000 },
  jobId: ({ purpose, subjectId }) => `whatsapp.transactional.${purpose}.${subjectId}`,
});

/**
 * Due-date reminders for one day: every open invoice whose due date plus one
 * of its school's reminder offsets is that day (in the school's zone) gets
 * one reminder per offset. Run every hour by a job scheduler; repeats make
 * nothing twice.
 */
export const sendReminders = defineJob({
  name: 'whatsapp.reminders',
  queue: 'whatsapp-campaign',
  version: 1,
  payload: z.strictObject({}),
  attempts: 3,
  backoff: { type: 'exponential', delay: 60_000 },
  jobId: () => 'whatsapp.reminders',
});

/**
 * Compute one KPI report (a `reports` row, by id) and store its result.
 * Asked for through the outbox by `POST /api/reports` and by schedules. The
 * row carries the dedupe key (kind, school, parameters, money version), so an
 * identical request while this one is queued, running or fresh finds it
 * instead of queuing another. Only transient errors (the database or network)
 * are retried; any other failure is final and shown on the report.
 */
export const computeReport = defineJob({
  name: 'kpi-report.compute',
  queue: 'kpi-report',
  version: 1,
  payload: z.strictObject({ reportId: z.uuid() }),
  attempts: 5,
  backoff: { type: 'exponential', delay: 5_000 },
  jobId: ({ reportId }) => `kpi-report.compute.${reportId}`,
});

/**
 * One run of a report schedule (a `report_schedules` row): resolves the
 * schedule's parameters for the run day and asks for the report like a
 * request would. Fired by the schedule's BullMQ job scheduler.
 */
export const runReportSchedule = defineJob({
  name: 'kpi-report.scheduled',
  queue: 'kpi-report',
  version: 1,
  payload: z.strictObject({ scheduleId: z.uuid() }),
  attempts: 5,
  backoff: { type: 'exponential', delay: 30_000 },
  jobId: ({ scheduleId }) => `kpi-report.scheduled.${scheduleId}`,
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
  'pdf-batch.chunk': renderPdfBatchChunk,
  'pdf-batch.track': trackPdfBatch,
  'whatsapp-campaign.launch': launchCampaign,
  'whatsapp.send': sendWhatsApp,
  'whatsapp-event.apply': applyWhatsAppEvent,
  'whatsapp.transactional': sendTransactional,
  'whatsapp.reminders': sendReminders,
  'kpi-report.compute': computeReport,
  'kpi-report.scheduled': runReportSchedule,
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
