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
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createRefund, findPayment, listInvoicePayments, recordPayment } from './payments.service.js';

export function paymentsRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/invoices/:id/payments',
    route(
      {
        permission: 'payments:write',
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
      async ({ params, body, headers, res, caller, actor }) => {
        const result = await recordPayment(
          db,
          actor,
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
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        response: InvoicePaymentList,
        summary: "An invoice's payments",
        tags: ['payments'],
      },
      async ({ params, caller }) => ({
        data: await listInvoicePayments(db, readScope(caller), params.id),
      }),
    ),
  );

  router.get(
    '/api/payments/:id',
    route(
      {
        permission: 'invoices:read',
        params: IdParams,
        response: Payment,
        summary: 'Get a payment with its refunds and, for an online payment, its provider events',
        tags: ['payments'],
      },
      ({ params, caller }) => findPayment(db, readScope(caller), params.id),
    ),
  );

  router.post(
    '/api/payments/:id/refunds',
    route(
      {
        permission: 'refunds:write',
        params: IdParams,
        body: CreateRefundBody,
        headers: OptionalIdempotencyKeyHeader,
        status: 201,
        response: Refund,
        summary: 'Refund part or all of a payment',
        tags: ['payments'],
        errors: ['conflict', 'idempotency_key_reused'],
      },
      async ({ params, body, headers, res, caller, actor }) => {
        const result = await createRefund(
          db,
          actor,
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
