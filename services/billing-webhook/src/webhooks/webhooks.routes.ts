import express, { type ErrorRequestHandler, type Express } from 'express';
import { z } from 'zod';
import type { PaymentProvider } from '@bursar/contracts';
import { route } from '@bursar/platform';
import { webhooksRejected } from './webhooks.metrics.js';
import { receiveWebhook, type ReceiveDeps } from './webhooks.service.js';

/** The largest webhook body accepted; real events are a few KB. */
export const WEBHOOK_BODY_LIMIT_BYTES = 256 * 1024;

const WebhookReceived = z.object({ received: z.literal(true) });

/**
 * `POST /webhooks/razorpay` and `POST /webhooks/stripe`. Mounted before the
 * JSON parser: the signature is over the bytes exactly as sent, so the body is
 * read raw (any content type, never inflated) and stored as it came.
 */
export function mountWebhookRoutes(app: Express, deps: ReceiveDeps): void {
  for (const provider of ['razorpay', 'stripe'] as const satisfies readonly PaymentProvider[]) {
    const tooLarge: ErrorRequestHandler = (error: { type?: string }, _req, _res, next) => {
      if (error.type === 'entity.too.large') webhooksRejected.inc({ provider, reason: 'too_large' });
      next(error);
    };
    app.post(
      `/webhooks/${provider}`,
      express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES, inflate: false }),
      tooLarge,
      route(
        {
          summary: `Receives a ${provider} webhook: verified, stored, applied later by the worker`,
          tags: ['webhooks'],
          response: WebhookReceived,
          errors: ['bad_webhook_signature', 'payload_too_large'],
        },
        async ({ req }) => {
          const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          await receiveWebhook(deps, provider, rawBody, req.headers);
          return { received: true as const };
        },
      ),
    );
  }
}
