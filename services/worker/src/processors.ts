import type { JobCatalog, JobDefinition, JOBS } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import type { PublishDeps } from '@bursar/documents';
import type { Logger, OutboxRelay } from '@bursar/platform';
import type { Job } from 'bullmq';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { processPaymentEvent } from './payments/payment-event.processor.js';
import type { WhatsAppDeps } from './whatsapp/context.js';
import { processLaunchCampaign } from './whatsapp/launch.processor.js';
import { processSendWhatsApp } from './whatsapp/send.processor.js';
import { processWhatsAppEvent } from './whatsapp/events.processor.js';
import { processReminders, processTransactional } from './whatsapp/transactional.processor.js';
import { processComputeReport, processScheduledReport } from './reports/reports.processor.js';
import {
  processInvoicePdf,
  processPdfBatchChunk,
  processPdfBatchTracker,
  processReceiptPdf,
} from './documents/documents.processor.js';

/** What a processor is handed besides its payload. */
export interface ProcessorContext {
  db: Kysely<DB>;
  logger: Logger;
  /** This process's relay: follow-up jobs go through the outbox (`transactionWithOutbox`). */
  outbox: OutboxRelay;
  /** Renders and stores PDFs: the process's storage, logo cache and pay-link signer. */
  documents: PublishDeps;
  /** The WhatsApp provider and what sends need (business number, send queue, signed links). */
  whatsapp: WhatsAppDeps;
  job: Job;
}

/**
 * Processes one job of kind `D`. Idempotent (a job may run again after a
 * crash or a Redis restart); throws `UnrecoverableError` for work that can
 * never succeed (the entity is gone), anything else to retry with backoff.
 */
export type Processor<D extends JobDefinition> = (
  payload: z.infer<D['payload']>,
  context: ProcessorContext,
) => Promise<unknown>;

/** One processor per job of the catalog: a job added without its processor does not typecheck. */
export type Processors<C extends JobCatalog> = { [K in keyof C]: Processor<C[K]> };

/** Every job's processor: each job lands together with its processor here. */
export const processors: Processors<typeof JOBS> = {
  'payment-event.apply': processPaymentEvent,
  'invoice-pdf.render': processInvoicePdf,
  'receipt-pdf.render': processReceiptPdf,
  'pdf-batch.chunk': processPdfBatchChunk,
  'pdf-batch.track': processPdfBatchTracker,
  'whatsapp-campaign.launch': processLaunchCampaign,
  'whatsapp.send': processSendWhatsApp,
  'whatsapp-event.apply': processWhatsAppEvent,
  'whatsapp.transactional': processTransactional,
  'whatsapp.reminders': (payload, context) => processReminders(payload, context),
  'kpi-report.compute': processComputeReport,
  'kpi-report.scheduled': processScheduledReport,
};
