import { Router } from 'express';
import {
  CreateInvoiceBody,
  IdParams,
  Invoice,
  InvoiceList,
  ListInvoicesQuery,
  UpdateInvoiceBody,
  VoidInvoiceBody,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { readScope, writeSchool } from '../tenancy.js';
import {
  createInvoice,
  deleteInvoiceById,
  findInvoice,
  listInvoices,
  updateInvoice,
  voidInvoiceById,
} from './invoices.service.js';

export function invoicesRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/invoices',
    authenticate,
    requirePermission('invoices:write'),
    route(
      {
        body: CreateInvoiceBody,
        status: 201,
        response: Invoice,
        summary: 'Issue an invoice',
        tags: ['invoices'],
        // An unknown student, or another school's, is a 404.
        errors: ['not_found'],
      },
      // The same rule as every create: staff bill their own school, a platform admin names it.
      ({ body, req }) => createInvoice(db, actorOf(req), writeSchool(callerOf(req), body.schoolId), body),
    ),
  );

  router.get(
    '/api/invoices',
    authenticate,
    requirePermission('invoices:read'),
    route(
      { query: ListInvoicesQuery, response: InvoiceList, summary: 'List invoices', tags: ['invoices'] },
      ({ query, req }) => listInvoices(db, readScope(callerOf(req), query.schoolId), query),
    ),
  );

  router.get(
    '/api/invoices/:id',
    authenticate,
    requirePermission('invoices:read'),
    route(
      { params: IdParams, response: Invoice, summary: 'Get an invoice', tags: ['invoices'] },
      ({ params, req }) => findInvoice(db, readScope(callerOf(req)), params.id),
    ),
  );

  router.patch(
    '/api/invoices/:id',
    authenticate,
    requirePermission('invoices:write'),
    route(
      {
        params: IdParams,
        body: UpdateInvoiceBody,
        response: Invoice,
        summary: 'Change an invoice (lines only while nothing is paid)',
        tags: ['invoices'],
        errors: ['conflict'],
      },
      ({ params, body, req }) => updateInvoice(db, actorOf(req), readScope(callerOf(req)), params.id, body),
    ),
  );

  router.post(
    '/api/invoices/:id/void',
    authenticate,
    requirePermission('invoices:write'),
    route(
      {
        params: IdParams,
        body: VoidInvoiceBody,
        response: Invoice,
        summary: 'Void an invoice',
        tags: ['invoices'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        voidInvoiceById(db, actorOf(req), readScope(callerOf(req)), params.id, body.reason),
    ),
  );

  router.delete(
    '/api/invoices/:id',
    authenticate,
    requirePermission('invoices:write'),
    route(
      {
        params: IdParams,
        status: 204,
        summary: 'Delete an invoice that has no payments (void it otherwise)',
        tags: ['invoices'],
        errors: ['conflict'],
      },
      async ({ params, req }) => {
        await deleteInvoiceById(db, actorOf(req), readScope(callerOf(req)), params.id);
      },
    ),
  );

  return router;
}
