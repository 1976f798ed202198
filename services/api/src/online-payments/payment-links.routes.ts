import { Router } from 'express';
import { CreatePaymentLinkBody, IdParams, PaymentLink } from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createPaymentLink } from './payment-links.service.js';

/** `POST /api/invoices/:id/payment-link`: a Razorpay Payment Link or Stripe Checkout Session for the balance. */
export function paymentLinksRoutes({ db, config, logger }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/invoices/:id/payment-link',
    route(
      {
        permission: 'payments:write',
        params: IdParams,
        body: CreatePaymentLinkBody,
        status: 201,
        response: PaymentLink,
        summary:
          "A pay link for the invoice's balance (Razorpay Payment Link or Stripe Checkout Session); " +
          'while one for the same amount is open, that one is answered (201, same body)',
        description:
          'The invoice, school and invoice number travel in Razorpay `notes` / Stripe `metadata`. ' +
          'Razorpay links stay payable 7 days, Stripe sessions 23 hours. A paid or void invoice is a 409. ' +
          'When the provider fails, refuses or does not answer within 10 s the answer is 503 and nothing is stored.',
        tags: ['payments'],
        errors: ['conflict', 'service_unavailable'],
      },
      async ({ params, body, req, caller, actor }) => {
        const { link } = await createPaymentLink(
          // The request's logger, so a provider failure is logged with the request id.
          { db, config, logger: req.log ?? logger },
          actor,
          readScope(caller),
          params.id,
          body.provider,
        );
        return link;
      },
    ),
  );

  return router;
}
