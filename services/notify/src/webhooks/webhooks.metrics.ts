import { outboxRelayed, registry } from '@bursar/platform';

/** The part of prom-client's Counter used here, labelled by `L`. */
interface LabelledCounter<L extends string> {
  inc(labels: Record<L, string>, value?: number): void;
}

type CounterClass = new <L extends string>(config: {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: (typeof registry)[];
}) => LabelledCounter<L>;

// prom-client is not (yet) a dependency of notify, so its Counter class is taken from a counter the
// platform already made: the same class, in the same registry /metrics serves. Once prom-client is
// in services/notify/package.json this becomes `import client from 'prom-client'` and `client.Counter`.
const Counter = outboxRelayed.constructor as CounterClass;

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
