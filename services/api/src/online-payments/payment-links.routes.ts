import { Router, type Response } from 'express';
import {
  AppError,
  CreatePaymentLinkBody,
  IdParams,
  PaymentLink,
  type PaymentProvider,
} from '@bursar/contracts';
import { readPayPageToken } from '@bursar/payments';
import { describeRoute, readScope, route, type SystemActor } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createPaymentLink } from './payment-links.service.js';
import { findInvoiceCurrency } from './payment-links.repository.js';

/** Who the audit trail says asked for a link when a guardian opened the pay link printed on an invoice. */
const PAY_PAGE: SystemActor = { system: 'pay-page' };

/** The provider a printed pay link opens: Razorpay for rupees (UPI, cards, netbanking), Stripe otherwise. */
export function payPageProvider(currency: string): PaymentProvider {
  return currency === 'INR' ? 'razorpay' : 'stripe';
}

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
    '/api/pay/i/:token',
    describeRoute(
      async (req, res, next) => {
        try {
          res.setHeader('Cache-Control', 'no-store');
          const invoiceId = readPayPageToken(config.PAY_LINK_SECRET, String(req.params.token));
          if (!invoiceId) return payPage(res, 404, 'This pay link is not valid', NOT_VALID);
          const currency = await findInvoiceCurrency(db, invoiceId);
          if (!currency) return payPage(res, 404, 'This pay link is not valid', NOT_VALID);
          const { link } = await createPaymentLink(
            { db, config, logger: req.log ?? logger },
            PAY_PAGE,
            null,
            invoiceId,
            payPageProvider(currency),
          );
          res.redirect(303, link.url);
        } catch (error) {
          if (error instanceof AppError && error.code === 'conflict') {
            return payPage(res, 200, 'Nothing to pay', NOTHING_TO_PAY);
          }
          if (error instanceof AppError && error.code === 'service_unavailable') {
            return payPage(res, 503, 'Please try again', TRY_AGAIN);
          }
          next(error);
        }
      },
      {
        summary:
          'The pay link printed on an invoice (public): opens a provider checkout for what the invoice still asks',
        description:
          'The token is the invoice id and its HMAC signature. A 303 to the provider; a paid or void invoice ' +
          'gets a page saying there is nothing to pay.',
        tags: ['payments'],
        responseType: 'text/html',
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

const NOT_VALID =
  'Check that you scanned or typed the whole link from your invoice. If it still does not open, contact the school.';
const NOTHING_TO_PAY = 'This invoice has nothing left to pay. Thank you.';
const TRY_AGAIN = 'The payment service did not answer. Please open the link again in a minute.';

/** A small public page (the payer may not be logged in): names no school, invoice or amount. */
function payPage(res: Response, status: number, title: string, text: string): void {
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5">
<h1 style="font-size: 1.4rem">${title}</h1>
<p>${text}</p>
</body>
</html>
`,
    );
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
