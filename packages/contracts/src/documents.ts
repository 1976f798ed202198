import { z } from 'zod';
import { Id, IsoDateTime, PaginationQuery, paginated } from './common.js';

/** The most invoices one bulk render may hold. */
export const MAX_PDF_BATCH = 20_000;

/** `POST /api/invoices/:id/pdf`: the render was queued; the PDF appears at `GET /api/invoices/:id/pdf`. */
export const PdfRenderAccepted = z.object({ jobId: z.string() });
export type PdfRenderAccepted = z.infer<typeof PdfRenderAccepted>;

const schoolOfBatch = { schoolId: Id.optional() };

/**
 * `POST /api/invoices/pdf`: which invoices to render, exactly one of a list of
 * ids, a class (every non-void invoice of the students now in it) or a fee
 * plan (every non-void invoice it issued). `schoolId` only from a platform
 * admin. Invoices come in invoice-number order; at most {@link MAX_PDF_BATCH}.
 */
export const CreatePdfBatchBody = z.union([
  z.strictObject({
    invoiceIds: z
      .array(Id)
      .min(1)
      .max(MAX_PDF_BATCH)
      .refine((ids) => new Set(ids).size === ids.length, 'each invoice may be named once'),
    ...schoolOfBatch,
  }),
  z.strictObject({ classId: Id, ...schoolOfBatch }),
  z.strictObject({ feePlanId: Id, ...schoolOfBatch }),
]);
export type CreatePdfBatchBody = z.infer<typeof CreatePdfBatchBody>;

/** Answer of `POST /api/invoices/pdf` (202). */
export const PdfBatchCreated = z.object({ batchId: Id, total: z.number().int() });
export type PdfBatchCreated = z.infer<typeof PdfBatchCreated>;

/** An invoice of a batch that could not be rendered, and why. */
export const PdfBatchError = z.object({ invoiceId: Id, invoiceNumber: z.string(), error: z.string() });

/**
 * `GET /api/pdf-batches/:id`: progress of a bulk render. `completed` once every
 * invoice is done or failed (`done + failed = total`); the zip is then at
 * `GET /api/pdf-batches/:id/download` and holds the `done` ones.
 */
export const PdfBatch = z.object({
  id: Id,
  schoolId: Id,
  status: z.enum(['running', 'completed']),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  /** The failed invoices (at most 100 listed). */
  errors: z.array(PdfBatchError),
  createdAt: IsoDateTime,
  finishedAt: IsoDateTime.nullable(),
});
export type PdfBatch = z.infer<typeof PdfBatch>;

/** `GET /api/pdf-batches`. */
export const ListPdfBatchesQuery = PaginationQuery.extend({ schoolId: Id.optional() }).strict();
export type ListPdfBatchesQuery = z.infer<typeof ListPdfBatchesQuery>;
export const PdfBatchList = paginated(PdfBatch);
