import { randomBytes } from 'node:crypto';
import type { SandboxLink, SandboxPayment } from './sandbox.store.js';

/** A provider-style id: the prefix and 14 random base62-ish characters, as Razorpay and Stripe mint them. */
export function providerId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}${[...randomBytes(14)].map((byte) => alphabet[byte % alphabet.length]).join('')}`;
}

/** One webhook as the provider would deliver it: its event id and the exact body bytes to sign. */
export interface ProviderEventDraft {
  eventId: string;
  type: string;
  body: string;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Razorpay sends an empty `notes` as `[]`, a filled one as an object. */
function razorpayNotes(notes: Record<string, string>): Record<string, string> | [] {
  return Object.keys(notes).length ? notes : [];
}

function razorpayEvent(type: string, contains: string[], payload: object): ProviderEventDraft {
  const body = {
    entity: 'event',
    account_id: 'acc_BursarSandbox01',
    event: type,
    contains,
    payload,
    created_at: nowSeconds(),
  };
  return { eventId: providerId('evt_'), type, body: JSON.stringify(body) };
}

function razorpayPaymentEntity(payment: SandboxPayment, orderId: string, status: 'captured' | 'failed') {
  return {
    id: payment.id,
    entity: 'payment',
    amount: payment.amountMinor,
    currency: payment.currency,
    status,
    order_id: orderId,
    invoice_id: null,
    international: false,
    method: 'upi',
    amount_refunded: 0,
    refund_status: null,
    captured: status === 'captured',
    description: null,
    vpa: 'payer@upi',
    email: 'payer@example.com',
    contact: '+910000000000',
    notes: razorpayNotes(payment.notes),
    fee: status === 'captured' ? Math.round(payment.amountMinor * 0.02) : null,
    tax: null,
    error_code: status === 'failed' ? 'BAD_REQUEST_ERROR' : null,
    error_description: status === 'failed' ? 'Payment was declined by the sandbox (Fail was pressed)' : null,
    error_source: status === 'failed' ? 'customer' : null,
    error_step: status === 'failed' ? 'payment_authorization' : null,
    error_reason: status === 'failed' ? 'payment_failed' : null,
    created_at: nowSeconds(),
  };
}

/**
 * Razorpay's events for a payment through a Payment Link: `payment.captured`,
 * then `payment_link.paid` (with the link, the payment and the order). Both
 * carry the same `pay_` id under different event ids, as Razorpay sends them.
 */
export function razorpayPaidEvents(link: SandboxLink, payment: SandboxPayment): ProviderEventDraft[] {
  const orderId = providerId('order_');
  const paymentEntity = razorpayPaymentEntity(payment, orderId, 'captured');
  const order = {
    id: orderId,
    entity: 'order',
    amount: link.amountMinor,
    amount_paid: link.amountMinor,
    amount_due: 0,
    currency: link.currency,
    receipt: null,
    status: 'paid',
    attempts: 1,
    notes: razorpayNotes(link.notes),
    created_at: nowSeconds(),
  };
  const paymentLink = {
    id: link.id,
    entity: 'payment_link',
    amount: link.amountMinor,
    amount_paid: link.amountMinor,
    currency: link.currency,
    description: link.description,
    notes: razorpayNotes(link.notes),
    order_id: orderId,
    reference_id: link.referenceId ?? '',
    short_url: '',
    status: 'paid',
    expire_by: link.expiresAt,
    created_at: link.createdAt,
  };
  return [
    razorpayEvent('payment.captured', ['payment'], { payment: { entity: paymentEntity } }),
    razorpayEvent('payment_link.paid', ['payment_link', 'order', 'payment'], {
      payment_link: { entity: paymentLink },
      order: { entity: order },
      payment: { entity: paymentEntity },
    }),
  ];
}

/** Razorpay's `payment.failed` for an attempt on a link: recorded by Bursar, never applied. */
export function razorpayFailedEvent(payment: SandboxPayment): ProviderEventDraft {
  return razorpayEvent('payment.failed', ['payment'], {
    payment: { entity: razorpayPaymentEntity(payment, providerId('order_'), 'failed') },
  });
}

/** Razorpay's `refund.processed`, with the refund and the payment it came from. */
export function razorpayRefundEvent(payment: SandboxPayment, refundId: string, amountMinor: number) {
  const refunded = payment.refunds.reduce((total, refund) => total + refund.amountMinor, 0);
  return razorpayEvent('refund.processed', ['refund', 'payment'], {
    refund: {
      entity: {
        id: refundId,
        entity: 'refund',
        amount: amountMinor,
        currency: payment.currency,
        payment_id: payment.id,
        notes: [],
        receipt: null,
        status: 'processed',
        speed_processed: 'normal',
        created_at: nowSeconds(),
      },
    },
    payment: {
      entity: {
        ...razorpayPaymentEntity(payment, providerId('order_'), 'captured'),
        amount_refunded: refunded,
        refund_status: refunded >= payment.amountMinor ? 'full' : 'partial',
      },
    },
  });
}

function stripeEvent(type: string, object: object): ProviderEventDraft {
  const eventId = providerId('evt_');
  const body = {
    id: eventId,
    object: 'event',
    api_version: '2025-06-30.basil',
    created: nowSeconds(),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
  return { eventId, type, body: JSON.stringify(body) };
}

function stripePaymentIntent(payment: SandboxPayment, status: 'succeeded' | 'requires_payment_method') {
  const succeeded = status === 'succeeded';
  return {
    id: payment.id,
    object: 'payment_intent',
    amount: payment.amountMinor,
    amount_received: succeeded ? payment.amountMinor : 0,
    currency: payment.currency.toLowerCase(),
    metadata: payment.notes,
    status,
    latest_charge: succeeded ? payment.chargeId : null,
    last_payment_error: succeeded
      ? null
      : { code: 'card_declined', message: 'Your card was declined (Fail was pressed in the sandbox).' },
    livemode: false,
    created: nowSeconds(),
  };
}

/**
 * Stripe's events for a paid Checkout Session: `checkout.session.completed`,
 * then `payment_intent.succeeded` (same `pi_` id). Amounts in minor units,
 * currency in lower case, as Stripe sends them.
 */
export function stripePaidEvents(link: SandboxLink, payment: SandboxPayment): ProviderEventDraft[] {
  const session = {
    id: link.id,
    object: 'checkout.session',
    amount_subtotal: link.amountMinor,
    amount_total: link.amountMinor,
    currency: link.currency.toLowerCase(),
    client_reference_id: link.referenceId,
    metadata: link.notes,
    mode: 'payment',
    payment_intent: payment.id,
    payment_status: 'paid',
    status: 'complete',
    success_url: link.returnUrl,
    expires_at: link.expiresAt,
    livemode: false,
    created: link.createdAt,
  };
  return [
    stripeEvent('checkout.session.completed', session),
    stripeEvent('payment_intent.succeeded', stripePaymentIntent(payment, 'succeeded')),
  ];
}

/** Stripe's `payment_intent.payment_failed`: a type Bursar does not act on, stored as ignored. */
export function stripeFailedEvent(payment: SandboxPayment): ProviderEventDraft {
  return stripeEvent(
    'payment_intent.payment_failed',
    stripePaymentIntent(payment, 'requires_payment_method'),
  );
}

/** Stripe's `charge.refunded`: the charge with its cumulative `amount_refunded` and every refund so far. */
export function stripeRefundEvent(payment: SandboxPayment): ProviderEventDraft {
  const refunded = payment.refunds.reduce((total, refund) => total + refund.amountMinor, 0);
  return stripeEvent('charge.refunded', {
    id: payment.chargeId,
    object: 'charge',
    amount: payment.amountMinor,
    amount_captured: payment.amountMinor,
    amount_refunded: refunded,
    currency: payment.currency.toLowerCase(),
    payment_intent: payment.id,
    metadata: payment.notes,
    paid: true,
    refunded: refunded >= payment.amountMinor,
    status: 'succeeded',
    refunds: {
      object: 'list',
      data: payment.refunds.map((refund) => ({
        id: refund.id,
        object: 'refund',
        amount: refund.amountMinor,
        currency: payment.currency.toLowerCase(),
        payment_intent: payment.id,
        charge: payment.chargeId,
        status: 'succeeded',
      })),
      has_more: false,
    },
    livemode: false,
    created: nowSeconds(),
  });
}
