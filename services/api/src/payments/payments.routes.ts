import { Router } from 'express';
import { CreatePaymentBody, CreateRefundBody, IdParams, IdempotencyKeyHeader } from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { readScope } from '../tenancy.js';
import { createRefund, findPayment, listInvoicePayments, recordPayment } from './payments.service.js';

export function paymentsRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/invoices/:id/payments',
    authenticate,
    requirePermission('payments:write'),
    route({ params: IdParams, body: CreatePaymentBody, headers: IdempotencyKeyHeader }, async ({ params, body, headers, req, res }) => {
      const caller = callerOf(req);
      const result = await recordPayment(
        db,
        { caller, requestId: req.requestId },
        readScope(caller),
        params.id,
        headers['idempotency-key'],
        body,
      );
      if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
      res.status(result.status).json(result.body);
    }),
  );

  router.get(
    '/api/invoices/:id/payments',
    authenticate,
    requirePermission('invoices:read'),
    route({ params: IdParams }, async ({ params, req }) => ({
      data: await listInvoicePayments(db, readScope(callerOf(req)), params.id),
    })),
  );

  router.get(
    '/api/payments/:id',
    authenticate,
    requirePermission('invoices:read'),
    route({ params: IdParams }, ({ params, req }) => findPayment(db, readScope(callerOf(req)), params.id)),
  );

  router.post(
    '/api/payments/:id/refunds',
    authenticate,
    requirePermission('refunds:write'),
    route({ params: IdParams, body: CreateRefundBody, status: 201 }, ({ params, body, req }) => {
      const caller = callerOf(req);
      return createRefund(db, { caller, requestId: req.requestId }, readScope(caller), params.id, body);
    }),
  );

  return router;
}
