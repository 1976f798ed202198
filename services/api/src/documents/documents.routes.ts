import express, { Router } from 'express';
import { z } from 'zod';
import {
  CreatePdfBatchBody,
  IdParams,
  ListPdfBatchesQuery,
  PdfBatch,
  PdfBatchCreated,
  PdfBatchList,
  PdfRenderAccepted,
} from '@bursar/contracts';
import { AppError } from '@bursar/contracts';
import { latestDocument } from '@bursar/documents';
import { readDocumentToken } from '@bursar/payments';
import { describeRoute, readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { getSchool } from '../schools/schools.service.js';
import {
  createPdfBatch,
  currentInvoicePdf,
  currentReceiptPdf,
  deleteSchoolLogo,
  getPdfBatch,
  listPdfBatches,
  requestInvoicePdf,
  sendBatchZip,
  sendPdf,
  uploadSchoolLogo,
} from './documents.service.js';

const ConditionalHeaders = z.object({ 'if-none-match': z.string().max(200).optional() });

/** The largest logo a school may upload. */
export const MAX_LOGO_BYTES = 1024 * 1024;

export function documentsRoutes(context: ApiContext): Router {
  const { db, documents } = context;
  const router = Router();

  router.post(
    '/api/invoices/pdf',
    route(
      {
        permission: 'invoices:read',
        body: CreatePdfBatchBody,
        status: 202,
        response: PdfBatchCreated,
        summary: 'Render many invoices to PDF (a batch, by ids, class or fee plan)',
        description:
          'Progress at `GET /api/pdf-batches/{id}`, the zip at `GET /api/pdf-batches/{id}/download` once completed.',
        tags: ['documents'],
        errors: ['not_found'],
      },
      ({ body, actor }) => createPdfBatch(context, actor, body),
    ),
  );

  router.post(
    '/api/invoices/:id/pdf',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        status: 202,
        response: PdfRenderAccepted,
        summary: "Render the invoice's PDF again (a new version only if something changed)",
        tags: ['documents'],
        errors: ['not_found'],
      },
      ({ params, caller }) => requestInvoicePdf(context, caller, params.id),
    ),
  );

  router.get(
    '/api/invoices/:id/pdf',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        headers: ConditionalHeaders,
        responseType: 'application/pdf',
        summary: "The invoice's current PDF (404 until the first one is rendered)",
        description:
          "Served inline, named by the invoice number, with the version's content hash as ETag. A version " +
          "older than the invoice's status or balance is still served while a fresh render is queued.",
        tags: ['documents'],
        errors: ['not_found'],
      },
      async ({ params, headers, caller, res }) =>
        sendPdf(
          documents.storage,
          res,
          { ifNoneMatch: headers['if-none-match'] },
          await currentInvoicePdf(context, caller, params.id),
        ),
    ),
  );

  router.get(
    '/api/payments/:id/receipt.pdf',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        headers: ConditionalHeaders,
        responseType: 'application/pdf',
        summary: "The payment's receipt PDF (rendered on first request if needed)",
        tags: ['documents'],
        errors: ['not_found'],
      },
      async ({ params, headers, caller, res }) =>
        sendPdf(
          documents.storage,
          res,
          { ifNoneMatch: headers['if-none-match'] },
          await currentReceiptPdf(context, caller, params.id),
        ),
    ),
  );

  router.get(
    '/api/pdf-batches',
    route(
      {
        permission: 'invoices:read',
        query: ListPdfBatchesQuery,
        response: PdfBatchList,
        summary: 'List PDF batches, newest first',
        tags: ['documents'],
      },
      ({ query, caller }) => listPdfBatches(db, caller, query),
    ),
  );

  router.get(
    '/api/pdf-batches/:id',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        response: PdfBatch,
        summary: "A PDF batch's progress",
        tags: ['documents'],
        errors: ['not_found'],
      },
      ({ params, caller }) => getPdfBatch(db, caller, params.id),
    ),
  );

  router.get(
    '/api/pdf-batches/:id/download',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        responseType: 'application/zip',
        summary: 'A completed PDF batch as a zip (streamed; 409 while it is still rendering)',
        tags: ['documents'],
        errors: ['not_found', 'conflict'],
      },
      ({ params, caller, res }) => sendBatchZip(context, caller, params.id, res),
    ),
  );

  router.get(
    '/api/documents/:kind/:token',
    describeRoute(
      async (req, res, next) => {
        try {
          const named = readDocumentToken(
            context.config.PAY_LINK_SECRET,
            String(req.params.kind),
            String(req.params.token),
          );
          const document = named && (await latestDocument(db, named.kind, named.subjectId));
          if (!named || !document) throw new AppError('not_found', 'Document not found');
          await sendPdf(
            documents.storage,
            res,
            {},
            { document, filename: `${named.kind}-${named.subjectId}.pdf` },
          );
        } catch (error) {
          next(error);
        }
      },
      {
        summary:
          "A document's current version at its signed public address (what WhatsApp fetches for a document header)",
        tags: ['documents'],
        responseType: 'application/pdf',
      },
    ),
  );

  router.put(
    '/api/schools/:id/logo',
    express.raw({ type: () => true, limit: MAX_LOGO_BYTES }),
    route(
      {
        permission: 'schools:update',
        params: IdParams,
        status: 204,
        summary: "Upload the school's logo (PNG or JPEG bytes, at most 1 MB), printed on its documents",
        tags: ['schools'],
        errors: ['not_found', 'unsupported_media_type', 'payload_too_large'],
      },
      async ({ params, caller, actor, req }) => {
        await getSchool(db, readScope(caller), params.id);
        await uploadSchoolLogo(context, actor, params.id, req.body);
      },
    ),
  );

  router.delete(
    '/api/schools/:id/logo',
    route(
      {
        permission: 'schools:update',
        params: IdParams,
        status: 204,
        summary: "Remove the school's logo",
        tags: ['schools'],
        errors: ['not_found'],
      },
      async ({ params, caller, actor }) => {
        await getSchool(db, readScope(caller), params.id);
        await deleteSchoolLogo(context, actor, params.id);
      },
    ),
  );

  return router;
}
