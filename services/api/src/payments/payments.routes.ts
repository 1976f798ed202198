import { Router } from 'express';
import {
  CreatePaymentBody,
  CreateRefundBody,
  OptionalIdempotencyKeyHeader,
  IdParams,
  IdempotencyKeyHeader,
  InvoicePaymentList,
  Payment,
  PaymentReceipt,
  Refund,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { readScope } from '../tenancy.js';
import { createRefund, findPayment, listInvoicePayments, recordPayment } from './payments.service.js';

export function paymentsRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/invoices/:id/payments',
    authenticate,
    requirePermission('payments:write'),
    route(
      {
        params: IdParams,
        body: CreatePaymentBody,
        headers: IdempotencyKeyHeader,
        // recordPayment answers 201, or replays the first answer to a repeated Idempotency-Key.
        status: 201,
        response: PaymentReceipt,
        summary: 'Record a manual payment against an invoice (excess becomes credit)',
        tags: ['payments'],
        errors: ['conflict', 'idempotency_key_reused'],
      },
      async ({ params, body, headers, req, res }) => {
        const caller = callerOf(req);
        const result = await recordPayment(
          db,
          actorOf(req),
          readScope(caller),
          params.id,
          headers['idempotency-key'],
          body,
        );
        if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
        res.status(result.status).json(result.body);
      },
    ),
  );

  router.get(
    '/api/invoices/:id/payments',
    authenticate,
    requirePermission('invoices:read'),
    route(
      {
        params: IdParams,
        response: InvoicePaymentList,
        summary: "An invoice's payments",
        tags: ['payments'],
      },
      async ({ params, req }) => ({
        data: await listInvoicePayments(db, readScope(callerOf(req)), params.id),
      }),
    ),
  );

  router.get(
    '/api/payments/:id',
    authenticate,
    requirePermission('invoices:read'),
    route(
      { params: IdParams, response: Payment, summary: 'Get a payment with its refunds', tags: ['payments'] },
      ({ params, req }) => findPayment(db, readScope(callerOf(req)), params.id),
    ),
  );

  router.post(
    '/api/payments/:id/refunds',
    authenticate,
    requirePermission('refunds:write'),
    route(
      {
        params: IdParams,
        body: CreateRefundBody,
        headers: OptionalIdempotencyKeyHeader,
        status: 201,
        response: Refund,
        summary: 'Refund part or all of a payment',
        tags: ['payments'],
        errors: ['conflict', 'idempotency_key_reused'],
      },
      async ({ params, body, headers, req, res }) => {
        const caller = callerOf(req);
        const result = await createRefund(
          db,
          actorOf(req),
          readScope(caller),
          params.id,
          body,
          headers['idempotency-key'],
        );
        if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
        return result.body as Refund;
      },
    ),
  );

  return router;
}
