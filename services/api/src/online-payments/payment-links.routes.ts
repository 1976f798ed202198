import { Router } from 'express';
import { CreatePaymentLinkBody, IdParams, PaymentLink } from '@bursar/contracts';
import { describeRoute, readScope, route } from '@bursar/platform';
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

  router.get(
    '/api/pay/return',
    describeRoute(
      (_req, res) => {
        // Public and the same for everyone: the payer may not be logged in, so it says nothing about the invoice.
        res.type('html').setHeader('Cache-Control', 'no-store');
        res.send(RETURN_PAGE);
      },
      {
        summary: 'Where a provider sends the payer afterwards: a thank-you page (public, names nothing)',
        tags: ['payments'],
        responseType: 'text/html',
      },
    ),
  );

  return router;
}

const RETURN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Thank you</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5">
<h1 style="font-size: 1.4rem">Thank you</h1>
<p>Your payment is being confirmed with the school. Once it is recorded against the invoice the school
sends your receipt. You can close this page.</p>
<p style="color: #666">If the payment did not go through, the link you used stays valid until it expires.</p>
</body>
</html>
`;
