import client from 'prom-client';
import { registry } from '@bursar/platform';

/** Webhooks that verified, by what became of them: `stored` (a job follows), `ignored` (unknown type), `duplicate`. */
export const webhooksReceived = new client.Counter({
  name: 'webhooks_received_total',
  help: 'Payment-provider webhooks that verified, by provider and outcome',
  labelNames: ['provider', 'outcome'],
  registers: [registry],
});

/** Webhooks refused before anything was stored, by why (signature failures, bodies too large). */
export const webhooksRejected = new client.Counter({
  name: 'webhooks_rejected_total',
  help: 'Payment-provider webhooks refused, by provider and reason',
  labelNames: ['provider', 'reason'],
  registers: [registry],
});
