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
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import {
  createInvoice,
  deleteInvoiceById,
  findInvoice,
  listInvoices,
  updateInvoice,
  voidInvoiceById,
} from './invoices.service.js';

export function invoicesRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/invoices',
    route(
      {
        permission: 'invoices:write',
        body: CreateInvoiceBody,
        status: 201,
        response: Invoice,
        summary: 'Issue an invoice',
        tags: ['invoices'],
        // An unknown student, or another school's, is a 404.
        errors: ['not_found'],
      },
      // The same rule as every create: staff bill their own school, a platform admin names it.
      ({ body, actor }) => createInvoice(db, actor, body),
    ),
  );

  router.get(
    '/api/invoices',
    route(
      {
        permission: 'invoices:read',
        query: ListInvoicesQuery,
        response: InvoiceList,
        summary: 'List invoices',
        tags: ['invoices'],
      },
      ({ query, caller }) => listInvoices(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.get(
    '/api/invoices/:id',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        response: Invoice,
        summary: 'Get an invoice',
        tags: ['invoices'],
      },
      ({ params, caller }) => findInvoice(db, readScope(caller), params.id),
    ),
  );

  router.patch(
    '/api/invoices/:id',
    route(
      {
        permission: 'invoices:write',
        params: IdParams,
        body: UpdateInvoiceBody,
        response: Invoice,
        summary: 'Change an invoice (lines only while nothing is paid)',
        tags: ['invoices'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) => updateInvoice(db, actor, readScope(caller), params.id, body),
    ),
  );

  router.post(
    '/api/invoices/:id/void',
    route(
      {
        permission: 'invoices:write',
        params: IdParams,
        body: VoidInvoiceBody,
        response: Invoice,
        summary: 'Void an invoice',
        tags: ['invoices'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) =>
        voidInvoiceById(db, actor, readScope(caller), params.id, body.reason),
    ),
  );

  router.delete(
    '/api/invoices/:id',
    route(
      {
        permission: 'invoices:write',
        params: IdParams,
        status: 204,
        summary: 'Delete an invoice that has no payments (void it otherwise)',
        tags: ['invoices'],
        errors: ['conflict'],
      },
      async ({ params, caller, actor }) => {
        await deleteInvoiceById(db, actor, readScope(caller), params.id);
      },
    ),
  );

  return router;
}
