import type { IncomingHttpHeaders } from 'node:http';
import type { Kysely } from 'kysely';
import { AppError, applyPaymentEvent, type PaymentProvider } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import {
  verifyRazorpayWebhook,
  verifyStripeWebhook,
  type PaymentsConfig,
  type WebhookVerification,
} from '@bursar/payments';
import { enqueue, transactionWithOutbox, type OutboxRelay } from '@bursar/platform';
import { webhooksReceived, webhooksRejected } from './webhooks.metrics.js';
import { insertProviderEvent } from './webhooks.repository.js';

/** Event types the payments worker acts on; any other verified event is stored as ignored. */
export const HANDLED_EVENT_TYPES: Record<PaymentProvider, ReadonlySet<string>> = {
  razorpay: new Set([
    'payment.captured',
    'order.paid',
    'payment_link.paid',
    'payment.failed',
    'refund.processed',
  ]),
  stripe: new Set(['checkout.session.completed', 'payment_intent.succeeded', 'charge.refunded']),
};

export interface ReceiveDeps {
  db: Kysely<DB>;
  outbox: Pick<OutboxRelay, 'kick'>;
  config: Pick<
    PaymentsConfig,
    'RAZORPAY_WEBHOOK_SECRETS' | 'STRIPE_WEBHOOK_SECRETS' | 'STRIPE_WEBHOOK_TOLERANCE_SECONDS'
  >;
}

/** What became of a verified webhook. */
export type ReceiveOutcome = 'stored' | 'ignored' | 'duplicate';

function verify(deps: ReceiveDeps, provider: PaymentProvider, rawBody: Buffer, headers: IncomingHttpHeaders) {
  const verification: WebhookVerification =
    provider === 'razorpay'
      ? verifyRazorpayWebhook(rawBody, headers, deps.config.RAZORPAY_WEBHOOK_SECRETS)
      : verifyStripeWebhook(rawBody, headers, deps.config.STRIPE_WEBHOOK_SECRETS, {
          toleranceSeconds: deps.config.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        });
  return verification;
}

/**
 * Receives one webhook: verify the signature over the raw bytes, store the
 * event byte-exact with its headers, and (for the types Bursar handles) put
 * the apply job in the outbox in the same transaction, then kick the relay.
 * Nothing here waits on the worker or on Redis: once the row commits the
 * event is safe, and the relay hands the job over whenever Redis answers. A
 * second delivery of a stored event changes nothing.
 */
export async function receiveWebhook(
  deps: ReceiveDeps,
  provider: PaymentProvider,
  rawBody: Buffer,
  headers: IncomingHttpHeaders,
): Promise<ReceiveOutcome> {
  const verification = verify(deps, provider, rawBody, headers);
  if (!verification.ok) {
    webhooksRejected.inc({ provider, reason: verification.reason });
    throw new AppError('bad_webhook_signature', 'The webhook signature did not verify; nothing was stored', {
      internal: `${provider} webhook refused: ${verification.reason}`,
    });
  }
  const { eventId, type } = verification.identity;
  const handled = HANDLED_EVENT_TYPES[provider].has(type);
  const outcome = await transactionWithOutbox(deps.db, deps.outbox, async (trx) => {
    const id = await insertProviderEvent(trx, {
      provider,
      eventId,
      eventType: type,
      headers,
      body: rawBody,
      status: handled ? 'received' : 'ignored',
    });
    if (id === null) return 'duplicate' as const;
    if (!handled) return 'ignored' as const;
    await enqueue(trx, applyPaymentEvent, { eventId: id });
    return 'stored' as const;
  });
  webhooksReceived.inc({ provider, outcome });
  return outcome;
}
