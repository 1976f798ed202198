import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { AppError, PaymentProvider } from '@bursar/contracts';
import { fieldError, route } from '@bursar/platform';
import { renderIndexPage, renderPayPage, renderResultPage, renderUnknownLink } from './sandbox.page.js';
import {
  createRazorpayLink,
  createStripeSession,
  publicBase,
  razorpayAuthorized,
  razorpayError,
  refundPayment,
  settleLink,
  stripeAuthorized,
  stripeError,
  type ProviderAnswer,
  type SandboxConfig,
} from './sandbox.service.js';
import type { SandboxStore } from './sandbox.store.js';

const SANDBOX = '/webhooks/sandbox';

function answer(res: Response, { status, body }: ProviderAnswer): void {
  res.status(status).json(body);
}

/** A body the provider could not read answers in that provider's error format, never problem+json. */
function providerParseErrors(
  format: (status: number, message: string) => ProviderAnswer,
): ErrorRequestHandler {
  return (error: { status?: number; type?: string }, _req, res, next) => {
    if (typeof error.status !== 'number' || error.status >= 500) return next(error);
    answer(
      res,
      format(
        error.status,
        error.type === 'entity.too.large'
          ? 'The request is too large.'
          : 'The request body could not be parsed.',
      ),
    );
  };
}

const PayParams = z.object({ reference: z.string().min(1).max(200) });
const PayBody = z.object({ action: z.enum(['pay', 'fail']) });
const RefundParams = z.object({ provider: PaymentProvider });
const RefundBody = z.strictObject({
  providerPaymentId: z.string().min(1).max(200),
  amountMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** Only for a payment the sandbox did not make itself; defaults to INR. */
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/)
    .optional(),
});
const RefundAnswer = z.object({
  providerRefundId: z.string(),
  eventId: z.string(),
  type: z.string(),
  deliveredStatus: z.number().nullable(),
});

/**
 * The payment sandbox (`PAYMENTS_PROVIDER=sandbox` only): stand-ins for
 * Razorpay's and Stripe's REST APIs that speak their exact formats (their
 * auth, their validation, their error shapes), a pay page per link whose Pay
 * and Fail buttons send the provider's real, signed webhooks to Bursar's
 * public URL, and a refund endpoint for tests. The fakes are written with
 * plain handlers because they imitate someone else's API, not Bursar's.
 */
export function mountSandboxRoutes(app: Express, deps: { config: SandboxConfig; store: SandboxStore }): void {
  const { config, store } = deps;

  const razorpayAuth: RequestHandler = (req, res, next) => {
    if (razorpayAuthorized(config, req.headers.authorization)) return next();
    answer(res, razorpayError(401, 'Authentication failed'));
  };
  const createPaymentLink: RequestHandler = (req, res) => {
    if (!req.is('application/json')) return answer(res, razorpayError(400, 'The request body must be JSON.'));
    answer(res, createRazorpayLink(store, config, req.body));
  };
  app.post(
    `${SANDBOX}/razorpay/v1/payment_links`,
    razorpayAuth,
    express.json({ limit: '100kb' }),
    providerParseErrors((status, message) => razorpayError(status, message)),
    createPaymentLink,
  );

  const stripeAuth: RequestHandler = (req, res, next) => {
    if (stripeAuthorized(config, req.headers.authorization)) return next();
    answer(
      res,
      stripeError(
        401,
        req.headers.authorization
          ? 'Invalid API Key provided: sk_****'
          : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      ),
    );
  };
  const createCheckoutSession: RequestHandler = (req, res) => {
    if (!req.is('application/x-www-form-urlencoded'))
      return answer(
        res,
        stripeError(400, 'Stripe takes form-encoded (application/x-www-form-urlencoded) bodies.'),
      );
    answer(res, createStripeSession(store, config, req.body));
  };
  app.post(
    `${SANDBOX}/stripe/v1/checkout/sessions`,
    stripeAuth,
    express.urlencoded({ extended: true, limit: '100kb', parameterLimit: 200 }),
    providerParseErrors((status, message) => stripeError(status, message)),
    createCheckoutSession,
  );

  app.get(
    SANDBOX,
    route(
      { summary: 'The sandbox front page: its links and their pay pages (HTML)', tags: ['sandbox'] },
      ({ res }) => {
        res.type('html').send(renderIndexPage([...store.links.values()].reverse()));
      },
    ),
  );

  app.get(
    `${SANDBOX}/pay/:reference`,
    route(
      { params: PayParams, summary: 'The sandbox pay page of a link (HTML)', tags: ['sandbox'] },
      ({ params, res }) => {
        const link = store.links.get(params.reference);
        res
          .type('html')
          .status(link ? 200 : 404)
          .send(link ? renderPayPage(link) : renderUnknownLink(params.reference));
      },
    ),
  );

  const ownOrigin = new URL(publicBase(config)).origin;
  app.post(
    `${SANDBOX}/pay/:reference`,
    express.urlencoded({ extended: false, limit: '4kb' }),
    route(
      {
        params: PayParams,
        body: PayBody,
        summary: 'Pay or Fail on the sandbox pay page: sends the provider’s signed webhooks to Bursar',
        tags: ['sandbox'],
        errors: ['forbidden', 'not_found'],
      },
      async ({ params, body, req, res }) => {
        // A form on another site must not be able to make payments happen here.
        if (req.headers.origin !== ownOrigin) {
          throw new AppError('forbidden', `Pay and Fail are accepted only from ${ownOrigin}`);
        }
        const link = store.links.get(params.reference);
        if (!link) {
          res.type('html').status(404).send(renderUnknownLink(params.reference));
          return;
        }
        if (link.status === 'paid' && body.action === 'pay') {
          res.type('html').status(409).send(renderPayPage(link));
          return;
        }
        const deliveries = await settleLink(store, config, link, body.action);
        res.type('html').send(renderResultPage(link, body.action, deliveries));
      },
    ),
  );

  app.post(
    `${SANDBOX}/:provider/refunds`,
    express.json({ limit: '4kb' }),
    route(
      {
        params: RefundParams,
        body: RefundBody,
        response: RefundAnswer,
        summary: 'Refunds a sandbox payment and sends the provider’s signed refund event (for tests)',
        tags: ['sandbox'],
      },
      async ({ params, body }) => {
        try {
          const refund = await refundPayment(store, config, params.provider, body);
          return {
            providerRefundId: refund.providerRefundId,
            eventId: refund.delivery.eventId,
            type: refund.delivery.type,
            deliveredStatus: refund.delivery.status,
          };
        } catch (error) {
          if (error instanceof RangeError) throw fieldError('body.amountMinor', error.message);
          throw error;
        }
      },
    ),
  );
}
