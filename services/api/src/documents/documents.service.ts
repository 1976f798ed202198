import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { ZipArchive } from 'archiver';
import {
  AppError,
  csvLine,
  JOBS,
  MAX_PDF_BATCH,
  PDF_BATCH_CHUNK,
  type CreatePdfBatchBody,
  type ListPdfBatchesQuery,
  type Paginated,
  type PdfBatch,
  type PdfBatchCreated,
} from '@bursar/contracts';
import {
  latestDocument,
  publishReceiptDocument,
  schoolLogoKey,
  type PublishDeps,
  type StoredDocument,
} from '@bursar/documents';
import {
  enqueue,
  enqueueMany,
  fieldError,
  notFound,
  recordAudit,
  transactionWithOutbox,
  writeSchool,
  type Actor,
  type Caller,
  type Logger,
  type OutboxRelay,
} from '@bursar/platform';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import { findInvoice } from '../invoices/invoices.service.js';
import { getClass } from '../classes/classes.service.js';
import { findFeePlan } from '../fee-plans/fee-plans.service.js';
import {
  batchItemsPage,
  findBatch,
  findBatchErrors,
  findClassInvoices,
  findFeePlanInvoices,
  findInvoicesById,
  findPaymentSchool,
  insertBatch,
  listBatches,
  setLogoUpdatedAt,
  type BatchInvoice,
} from './documents.repository.js';

/** What the document routes use. */
export interface DocumentsContext {
  db: Kysely<DB>;
  logger: Logger;
  outbox: Pick<OutboxRelay, 'kick'>;
  documents: PublishDeps;
}

function scopeOf(caller: Caller): string | null {
  return caller.role === 'platform_admin' ? null : caller.schoolId;
}

/** Queues a render of the invoice as it is now (a new version only if something changed). */
export async function requestInvoicePdf(
  { db, outbox }: DocumentsContext,
  caller: Caller,
  invoiceId: string,
): Promise<{ jobId: string }> {
  return transactionWithOutbox(db, outbox, async (trx) => {
    const invoice = await findInvoice(trx, scopeOf(caller), invoiceId);
    const { jobId } = await enqueue(trx, JOBS['invoice-pdf.render'], {
      invoiceId,
      schoolId: invoice.schoolId,
      revision: `request.${randomUUID()}`,
    });
    return { jobId };
  });
}

/**
 * The invoice's current PDF. A version rendered before the invoice's status or
 * balance last moved without a render being asked for (an invoice that became
 * overdue overnight) is still served, and a fresh render is queued. None yet →
 * 404, and one is queued.
 */
export async function currentInvoicePdf(
  context: DocumentsContext,
  caller: Caller,
  invoiceId: string,
): Promise<{ document: StoredDocument; filename: string }> {
  const invoice = await findInvoice(context.db, scopeOf(caller), invoiceId);
  const document = await latestDocument(context.db, 'invoice', invoiceId);
  const stale =
    !document || document.status !== invoice.status || document.balanceMinor !== BigInt(invoice.balanceMinor);
  if (stale) {
    await transactionWithOutbox(context.db, context.outbox, (trx) =>
      enqueue(trx, JOBS['invoice-pdf.render'], {
        invoiceId,
        schoolId: invoice.schoolId,
        // One request per state however often it is asked: the id repeats until the state moves.
        revision: `stale.${invoice.status}.${invoice.balanceMinor}.${document?.version ?? 0}`,
      }),
    );
  }
  if (!document) {
    throw new AppError(
      'not_found',
      `The PDF of invoice ${invoice.number} is not rendered yet; try again shortly`,
    );
  }
  return { document, filename: `${invoice.number}.pdf` };
}

/** The payment's receipt, rendered now if the worker has not stored it yet. */
export async function currentReceiptPdf(
  context: DocumentsContext,
  caller: Caller,
  paymentId: string,
): Promise<{ document: StoredDocument; filename: string }> {
  const payment = await findPaymentSchool(context.db, scopeOf(caller), paymentId);
  if (!payment) throw notFound('Payment');
  const document =
    (await latestDocument(context.db, 'receipt', paymentId)) ??
    (await publishReceiptDocument(context.documents, paymentId))?.document;
  if (!document) throw notFound('Payment');
  return { document, filename: `receipt-${paymentId}.pdf` };
}

/** Sends a stored PDF inline, streamed from storage, with its content hash as the ETag. */
export async function sendPdf(
  storage: PublishDeps['storage'],
  res: Response,
  request: { ifNoneMatch?: string },
  { document, filename }: { document: StoredDocument; filename: string },
): Promise<void> {
  const etag = `"${document.contentHash}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'private, no-cache');
  if (request.ifNoneMatch === etag) {
    res.status(304).end();
    return;
  }
  const stored = await storage.get(document.storageKey);
  if (!stored) {
    throw new AppError('service_unavailable', 'The PDF could not be read from storage; try again', {
      internal: `document ${document.id} has no file at ${document.storageKey}`,
    });
  }
  res.status(200);
  res.setHeader('Content-Type', 'application/pdf');
  res.setHeader('Content-Length', String(stored.size));
  res.setHeader('Content-Disposition', `inline; filename="${safeFilename(filename)}"`);
  await pipeline(stored.body, res);
}

function safeFilename(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The invoices a batch request names, all in one school the caller may read. */
async function resolveBatch(
  db: Kysely<DB>,
  caller: Caller,
  body: CreatePdfBatchBody,
): Promise<{ schoolId: string; invoices: BatchInvoice[] }> {
  const scope = caller.role === 'platform_admin' ? (body.schoolId ?? null) : caller.schoolId;
  if ('invoiceIds' in body) {
    // A staff member naming a school is refused before anything is read.
    if (caller.role !== 'platform_admin') writeSchool(caller, body.schoolId);
    const invoices = await findInvoicesById(db, scope, body.invoiceIds);
    if (invoices.length !== body.invoiceIds.length) {
      const found = new Set(invoices.map((invoice) => invoice.id));
      const missing = body.invoiceIds.filter((id) => !found.has(id));
      throw new AppError('not_found', `${missing.length} of the invoices were not found`, {
        errors: missing
          .slice(0, 20)
          .map((id) => ({ path: 'body.invoiceIds', message: `${id} not found`, code: 'not_found' })),
      });
    }
    const schools = new Set(invoices.map((invoice) => invoice.schoolId));
    if (schools.size > 1) throw fieldError('body.invoiceIds', 'the invoices belong to more than one school');
    return { schoolId: writeSchool(caller, body.schoolId, invoices[0]!.schoolId), invoices };
  }
  if ('classId' in body) {
    const schoolClass = await getClass(db, scope, body.classId);
    const schoolId = writeSchool(caller, body.schoolId, schoolClass.schoolId);
    return { schoolId, invoices: await findClassInvoices(db, schoolId, body.classId) };
  }
  const plan = await findFeePlan(db, scope, body.feePlanId);
  const schoolId = writeSchool(caller, body.schoolId, plan.schoolId);
  return { schoolId, invoices: await findFeePlanInvoices(db, schoolId, body.feePlanId) };
}

/**
 * Starts a bulk render: the batch and its items, a job per run of
 * {@link PDF_BATCH_CHUNK} items in batch order and the progress tracker, all
 * in one transaction (through the outbox, so a crash
 * or a Redis restart loses none of them).
 */
export async function createPdfBatch(
  context: DocumentsContext,
  actor: Actor,
  body: CreatePdfBatchBody,
): Promise<PdfBatchCreated> {
  const { schoolId, invoices } = await resolveBatch(context.db, actor.caller, body);
  if (invoices.length === 0) throw fieldError('body', 'there are no invoices to render for this selection');
  if (invoices.length > MAX_PDF_BATCH) {
    throw fieldError('body', `${invoices.length} invoices; one batch takes at most ${MAX_PDF_BATCH}`);
  }
  const { schoolId: _school, ...selector } = body;
  const batchId = await transactionWithOutbox(context.db, context.outbox, async (trx) => {
    const id = await insertBatch(trx, { schoolId, requestedBy: actor.caller.userId, selector, invoices });
    const chunks: { batchId: string; invoiceIds: string[] }[] = [];
    for (let start = 0; start < invoices.length; start += PDF_BATCH_CHUNK) {
      const invoiceIds = invoices.slice(start, start + PDF_BATCH_CHUNK).map((invoice) => invoice.id);
      chunks.push({ batchId: id, invoiceIds });
    }
    await enqueueMany(trx, JOBS['pdf-batch.chunk'], chunks);
    await enqueue(trx, JOBS['pdf-batch.track'], { batchId: id });
    await recordAudit(trx, actor, {
      action: 'pdf_batch.create',
      entityType: 'pdf_batch',
      entityId: id,
      schoolId,
      after: { selector, total: invoices.length },
    });
    return id;
  });
  return { batchId, total: invoices.length };
}

function toBatch(
  row: NonNullable<Awaited<ReturnType<typeof findBatch>>>,
  errors: PdfBatch['errors'],
): PdfBatch {
  return {
    id: row.id,
    schoolId: row.schoolId,
    status: row.status as PdfBatch['status'],
    total: row.total,
    done: row.done,
    failed: row.failed,
    errors,
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

export async function getPdfBatch(db: Kysely<DB>, caller: Caller, id: string): Promise<PdfBatch> {
  const row = await findBatch(db, scopeOf(caller), id);
  if (!row) throw notFound('PDF batch');
  const errors = await findBatchErrors(db, [id]);
  return toBatch(row, errors.get(id) ?? []);
}

export async function listPdfBatches(
  db: Kysely<DB>,
  caller: Caller,
  query: ListPdfBatchesQuery,
): Promise<Paginated<PdfBatch>> {
  const scope = caller.role === 'platform_admin' ? (query.schoolId ?? null) : caller.schoolId;
  const { rows, total } = await listBatches(db, scope, query);
  const errors = await findBatchErrors(
    db,
    rows.map((row) => row.id),
  );
  return {
    data: rows.map((row) => toBatch(row, errors.get(row.id) ?? [])),
    pagination: { limit: query.limit, offset: query.offset, total },
  };
}

const ZIP_PAGE = 200;

/**
 * Streams a completed batch as a zip: each done invoice's PDF (the version
 * rendered for the batch) under its invoice number, read from storage one at
 * a time, stored without recompression (PDFs are compressed already), plus
 * `failed.csv` when some could not be rendered. Nothing is held in memory
 * but the file being copied.
 */
export async function sendBatchZip(
  { db, documents, logger }: DocumentsContext,
  caller: Caller,
  batchId: string,
  res: Response,
): Promise<void> {
  const batch = await findBatch(db, scopeOf(caller), batchId);
  if (!batch) throw notFound('PDF batch');
  if (batch.status !== 'completed') {
    throw new AppError(
      'conflict',
      `The batch is still rendering (${batch.done + batch.failed} of ${batch.total}); download it once it completes`,
    );
  }
  const archive = new ZipArchive({ store: true });
  archive.on('warning', (error: Error) => logger.warn({ err: error, batchId }, 'zip warning'));
  res.status(200);
  res.setHeader('Content-Type', 'application/zip');
  res.setHeader('Content-Disposition', `attachment; filename="invoices-${batchId}.zip"`);
  res.setHeader('Cache-Control', 'private, no-store');
  const sent = pipeline(archive, res);
  const failed: string[] = [];
  try {
    let after = 0;
    for (;;) {
      const page = await batchItemsPage(db, batchId, after, ZIP_PAGE);
      for (const item of page) {
        after = item.position;
        if (item.status !== 'done' || !item.storageKey) {
          failed.push(csvLine([item.invoiceNumber, item.error ?? 'failed']));
          continue;
        }
        const stored = await documents.storage.get(item.storageKey);
        if (!stored) throw new Error(`batch ${batchId}: no file at ${item.storageKey}`);
        archive.append(stored.body, { name: `${safeFilename(item.invoiceNumber)}.pdf` });
        // One open file at a time: wait until the archiver has taken this entry.
        await once(archive, 'entry');
      }
      if (page.length < ZIP_PAGE) break;
    }
    if (failed.length)
      archive.append(csvLine(['invoice', 'error']) + failed.join(''), { name: 'failed.csv' });
    await archive.finalize();
  } catch (error) {
    // Headers are gone: all that can be done is to cut the download short, so it is not taken for whole.
    logger.error({ err: error, batchId }, 'batch zip failed part way');
    archive.abort();
    res.destroy(error as Error);
  }
  await sent.catch(() => {});
}

const IMAGE_SIGNATURES: { type: string; bytes: number[] }[] = [
  { type: 'image/png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/jpeg', bytes: [0xff, 0xd8, 0xff] },
];

/** Stores a school's logo (PNG or JPEG, checked by its bytes); documents rendered after it show it. */
export async function uploadSchoolLogo(
  { db, documents }: DocumentsContext,
  actor: Actor,
  schoolId: string,
  body: unknown,
): Promise<void> {
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new AppError('unsupported_media_type', 'Send the logo as image/png or image/jpeg bytes');
  }
  const kind = IMAGE_SIGNATURES.find((signature) =>
    signature.bytes.every((byte, index) => body[index] === byte),
  );
  if (!kind) throw new AppError('unsupported_media_type', 'The logo is neither a PNG nor a JPEG image');
  // Kept as bytes: renderers tell PNG from JPEG by the signature, as checked here.
  await documents.storage.put(schoolLogoKey(schoolId), body, { contentType: 'application/octet-stream' });
  await db.transaction().execute(async (trx) => {
    await setLogoUpdatedAt(trx, schoolId, new Date());
    await recordAudit(trx, actor, {
      action: 'school.logo.update',
      entityType: 'school',
      entityId: schoolId,
      schoolId,
      after: { contentType: kind.type, bytes: body.length },
    });
  });
}

/** Removes a school's logo; documents rendered after it have none. */
export async function deleteSchoolLogo({ db, documents }: DocumentsContext, actor: Actor, schoolId: string) {
  await db.transaction().execute(async (trx) => {
    await setLogoUpdatedAt(trx, schoolId, null);
    await recordAudit(trx, actor, {
      action: 'school.logo.delete',
      entityType: 'school',
      entityId: schoolId,
      schoolId,
    });
  });
  await documents.storage.delete(schoolLogoKey(schoolId));
}
