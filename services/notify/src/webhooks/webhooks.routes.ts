import express, { type ErrorRequestHandler, type Express } from 'express';
import { z } from 'zod';
import { route } from '@bursar/platform';
import type { WhatsAppProviderName } from '@bursar/whatsapp';
import { whatsappWebhooksRejected } from './webhooks.metrics.js';
import {
  answerMetaHandshake,
  receiveGupshupWebhook,
  receiveMetaWebhook,
  type ReceiveDeps,
} from './webhooks.service.js';

/** The largest webhook body accepted: Meta batches statuses, but a batch stays well under this. */
export const WHATSAPP_WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024;

const WebhookReceived = z.object({ received: z.literal(true) });

/** The raw body as express.raw left it (nothing at all for a bodiless request). */
function rawBodyOf(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/** express.raw for one provider's webhooks: any content type, never inflated, too-large ones counted. */
function rawBody(provider: WhatsAppProviderName) {
  const tooLarge: ErrorRequestHandler = (error: { type?: string }, _req, _res, next) => {
    if (error.type === 'entity.too.large') whatsappWebhooksRejected.inc({ provider, reason: 'too_large' });
    next(error);
  };
  return [
    express.raw({ type: () => true, limit: WHATSAPP_WEBHOOK_BODY_LIMIT_BYTES, inflate: false }),
    tooLarge,
  ];
}

/**
 * The WhatsApp providers' webhooks, at the paths Caddy sends to notify
 * (`/webhooks/whatsapp/*`). Mounted before the JSON parser: signatures are
 * over the bytes as sent, and the bytes are what is stored. Bodies never reach
 * a log (they hold guardians' numbers), nor does the Gupshup token (request
 * logs carry the path without its query).
 */
export function mountWhatsAppWebhooks(app: Express, deps: ReceiveDeps): void {
  app.get(
    '/webhooks/whatsapp/meta',
    route(
      {
        summary: 'Meta’s subscription handshake: echoes hub.challenge when hub.verify_token is right',
        tags: ['webhooks'],
        responseType: 'text/plain',
        errors: ['forbidden'],
      },
      ({ req, res }) => {
        const challenge = answerMetaHandshake(deps, req.query);
        res.status(200).type('text/plain').send(challenge);
      },
    ),
  );

  app.post(
    '/webhooks/whatsapp/meta',
    ...rawBody('meta'),
    route(
      {
        summary: 'Receives a Meta WhatsApp webhook: verified, stored, applied later by the worker',
        tags: ['webhooks'],
        response: WebhookReceived,
        errors: ['invalid_signature', 'malformed_json', 'payload_too_large'],
      },
      async ({ req }) => {
        await receiveMetaWebhook(deps, rawBodyOf(req.body), req.get('x-hub-signature-256'));
        return { received: true as const };
      },
    ),
  );

  app.post(
    '/webhooks/whatsapp/gupshup',
    ...rawBody('gupshup'),
    route(
      {
        summary: 'Receives a Gupshup callback (token in the query): checked, stored, applied by the worker',
        tags: ['webhooks'],
        response: WebhookReceived,
        errors: ['invalid_signature', 'malformed_json', 'payload_too_large'],
      },
      async ({ req }) => {
        const token = typeof req.query.token === 'string' ? req.query.token : undefined;
        await receiveGupshupWebhook(deps, rawBodyOf(req.body), token);
        return { received: true as const };
      },
    ),
  );
}
