import client from 'prom-client';
import { registry } from '@bursar/platform';

const { Counter } = client;

/** WhatsApp webhooks that verified, by what became of them: `stored` (an apply job follows) or `duplicate`. */
export const whatsappWebhooksReceived = new Counter({
  name: 'whatsapp_webhooks_received_total',
  help: 'WhatsApp provider webhooks that verified, by provider and outcome',
  labelNames: ['provider', 'outcome'],
  registers: [registry],
});

/**
 * WhatsApp webhooks refused before anything was stored, by why: `bad_signature`,
 * `missing_signature`, `bad_token`, `malformed`, `too_large`.
 */
export const whatsappWebhooksRejected = new Counter({
  name: 'whatsapp_webhooks_rejected_total',
  help: 'WhatsApp provider webhooks refused, by provider and reason',
  labelNames: ['provider', 'reason'],
  registers: [registry],
});
