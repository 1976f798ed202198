import { timingSafeEqual, createHash } from 'node:crypto';
import type { PaymentProvider } from '@bursar/contracts';
import { signRazorpayWebhook, signStripeWebhook, type PaymentsConfig } from '@bursar/payments';
import {
  providerId,
  razorpayFailedEvent,
  razorpayPaidEvents,
  razorpayRefundEvent,
  stripeFailedEvent,
  stripePaidEvents,
  stripeRefundEvent,
  type ProviderEventDraft,
} from './sandbox.events.js';
import type { SandboxLink, SandboxPayment, SandboxStore } from './sandbox.store.js';

/** What the sandbox needs of the config: where Bursar is, the providers' keys and webhook secrets. */
export type SandboxConfig = Pick<
  PaymentsConfig,
  | 'PUBLIC_URL'
  | 'RAZORPAY_KEY_ID'
  | 'RAZORPAY_KEY_SECRET'
  | 'RAZORPAY_WEBHOOK_SECRETS'
  | 'STRIPE_SECRET_KEY'
  | 'STRIPE_WEBHOOK_SECRETS'
>;

/** An answer in the provider's own format: its status and JSON body. */
export interface ProviderAnswer {
  status: number;
  body: unknown;
}

/** Bursar's public address without a trailing slash. */
export function publicBase(config: Pick<PaymentsConfig, 'PUBLIC_URL'>): string {
  return config.PUBLIC_URL.replace(/\/$/, '');
}

/** The pay page of a link, as the provider's `short_url` / `url`. */
export function payPageUrl(config: Pick<PaymentsConfig, 'PUBLIC_URL'>, reference: string): string {
  return `${publicBase(config)}/webhooks/sandbox/pay/${encodeURIComponent(reference)}`;
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Razorpay's HTTP Basic `key_id:key_secret`, checked as Razorpay would. */
export function razorpayAuthorized(config: SandboxConfig, authorization: string | undefined): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  return sameSecret(decoded, `${config.RAZORPAY_KEY_ID}:${config.RAZORPAY_KEY_SECRET}`);
}

/** Stripe's `Authorization: Bearer sk_…` (or Basic with the key as user name, which Stripe also takes). */
export function stripeAuthorized(config: SandboxConfig, authorization: string | undefined): boolean {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (bearer) return sameSecret(bearer[1]!, config.STRIPE_SECRET_KEY);
  const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (!basic) return false;
  const user = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0] ?? '';
  return sameSecret(user, config.STRIPE_SECRET_KEY);
}

/** Razorpay's error shape. */
export function razorpayError(status: number, description: string, field?: string): ProviderAnswer {
  return {
    status,
    body: {
      error: {
        code: status === 401 ? 'BAD_REQUEST_ERROR' : status >= 500 ? 'SERVER_ERROR' : 'BAD_REQUEST_ERROR',
        description,
        source: 'business',
        step: 'payment_initiation',
        reason: 'input_validation_failed',
        metadata: {},
        ...(field ? { field } : {}),
      },
    },
  };
}

/** Stripe's error shape. */
export function stripeError(status: number, message: string, param?: string): ProviderAnswer {
  return {
    status,
    body: { error: { type: 'invalid_request_error', message, ...(param ? { param } : {}) } },
  };
}

function stringRecord(value: unknown): Record<string, string> | null {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string' && typeof item !== 'number') return null;
    out[key] = String(item);
  }
  return out;
}

const CURRENCY = /^[A-Za-z]{3}$/;

/**
 * `POST /v1/payment_links` as Razorpay answers it: amount in paise (at least
 * 100), a currency, `expire_by` at least 15 minutes ahead, a `reference_id`
 * never used before (at most 40 characters), notes of at most 15 keys.
 */
export function createRazorpayLink(
  store: SandboxStore,
  config: SandboxConfig,
  input: unknown,
): ProviderAnswer {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    return razorpayError(400, 'The request body must be a JSON object');
  const body = input as Record<string, unknown>;
  const amount = body.amount;
  if (amount === undefined) return razorpayError(400, 'The amount field is required.', 'amount');
  if (typeof amount !== 'number' || !Number.isInteger(amount))
    return razorpayError(400, 'The amount must be an integer.', 'amount');
  if (amount < 100) return razorpayError(400, 'The amount must be atleast INR 1.00', 'amount');
  if (typeof body.currency !== 'string' || !CURRENCY.test(body.currency))
    return razorpayError(
      400,
      'The currency field is required and must be a valid currency code.',
      'currency',
    );
  const description = body.description ?? '';
  if (typeof description !== 'string' || description.length > 2048)
    return razorpayError(400, 'The description may not be greater than 2048 characters.', 'description');
  const now = Math.floor(Date.now() / 1000);
  const expireBy = body.expire_by;
  if (expireBy !== undefined && (typeof expireBy !== 'number' || !Number.isInteger(expireBy)))
    return razorpayError(400, 'The expire by must be an integer.', 'expire_by');
  if (typeof expireBy === 'number' && expireBy < now + 15 * 60)
    return razorpayError(
      400,
      'The expire by date should be at least 15 minutes after current time',
      'expire_by',
    );
  const referenceId = body.reference_id;
  if (referenceId !== undefined && (typeof referenceId !== 'string' || referenceId.length > 40))
    return razorpayError(400, 'The reference id may not be greater than 40 characters.', 'reference_id');
  if (typeof referenceId === 'string' && store.razorpayReferenceIds.has(referenceId))
    return razorpayError(400, `Payment Link with reference id ${referenceId} already exists`, 'reference_id');
  const notes = stringRecord(body.notes);
  if (!notes || Object.keys(notes).length > 15 || Object.values(notes).some((value) => value.length > 256))
    return razorpayError(400, 'The notes must be an object of at most 15 keys of 256 characters.', 'notes');
  const callbackUrl = body.callback_url;
  if (callbackUrl !== undefined && (typeof callbackUrl !== 'string' || !URL.canParse(callbackUrl)))
    return razorpayError(400, 'The callback url format is invalid.', 'callback_url');
  if (callbackUrl !== undefined && body.callback_method !== 'get')
    return razorpayError(
      400,
      'The callback method must be get when a callback url is given.',
      'callback_method',
    );

  const link: SandboxLink = {
    provider: 'razorpay',
    id: providerId('plink_'),
    amountMinor: amount,
    currency: body.currency.toUpperCase(),
    description,
    notes,
    paymentNotes: notes,
    referenceId: typeof referenceId === 'string' ? referenceId : null,
    returnUrl: typeof callbackUrl === 'string' ? callbackUrl : null,
    expiresAt: typeof expireBy === 'number' ? expireBy : 0,
    createdAt: now,
    status: 'open',
  };
  store.links.set(link.id, link);
  if (link.referenceId) store.razorpayReferenceIds.add(link.referenceId);
  return {
    status: 200,
    body: {
      accept_partial: false,
      amount: link.amountMinor,
      amount_paid: 0,
      callback_method: link.returnUrl ? 'get' : '',
      callback_url: link.returnUrl ?? '',
      cancelled_at: 0,
      created_at: link.createdAt,
      currency: link.currency,
      description: link.description,
      expire_by: link.expiresAt,
      expired_at: 0,
      first_min_partial_amount: 0,
      id: link.id,
      notes: Object.keys(notes).length ? notes : null,
      notify: { email: false, sms: false },
      payments: null,
      reference_id: link.referenceId ?? '',
      reminder_enable: false,
      reminders: [],
      short_url: payPageUrl(config, link.id),
      status: 'created',
      updated_at: link.createdAt,
      upi_link: false,
      user_id: '',
    },
  };
}

/**
 * `POST /v1/checkout/sessions` as Stripe answers it (form-encoded input,
 * parsed with bracket notation): `mode=payment`, one or more line items with
 * an integer `unit_amount`, a currency and a product name, `expires_at` 30
 * minutes to 24 hours ahead.
 */
export function createStripeSession(
  store: SandboxStore,
  config: SandboxConfig,
  input: unknown,
): ProviderAnswer {
  const body = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  if (body.mode === undefined) return stripeError(400, 'Missing required param: mode.', 'mode');
  if (body.mode !== 'payment')
    return stripeError(400, 'The sandbox only creates sessions with mode=payment.', 'mode');
  const items = Array.isArray(body.line_items) ? (body.line_items as unknown[]) : null;
  if (!items || items.length === 0)
    return stripeError(400, 'Missing required param: line_items.', 'line_items');
  let amountTotal = 0;
  let currency: string | undefined;
  let name = '';
  for (const [index, raw] of items.entries()) {
    const item = (raw ?? {}) as { price_data?: Record<string, unknown>; quantity?: unknown };
    const price = item.price_data;
    const param = `line_items[${index}]`;
    if (!price)
      return stripeError(400, `Missing required param: ${param}[price_data].`, `${param}[price_data]`);
    const itemCurrency = price.currency;
    if (typeof itemCurrency !== 'string' || !/^[a-z]{3}$/.test(itemCurrency))
      return stripeError(400, `Invalid currency: ${String(itemCurrency)}.`, `${param}[price_data][currency]`);
    if (currency && currency !== itemCurrency)
      return stripeError(400, 'All line items must use the same currency.', `${param}[price_data][currency]`);
    currency = itemCurrency;
    const unitAmount = typeof price.unit_amount === 'string' ? Number(price.unit_amount) : Number.NaN;
    if (!Number.isSafeInteger(unitAmount) || unitAmount < 1 || String(unitAmount) !== price.unit_amount)
      return stripeError(400, 'Invalid integer: unit_amount.', `${param}[price_data][unit_amount]`);
    const product = price.product_data as { name?: unknown } | undefined;
    if (typeof product?.name !== 'string' || !product.name)
      return stripeError(
        400,
        'Missing required param: product_data[name].',
        `${param}[price_data][product_data][name]`,
      );
    name ||= product.name;
    const quantity = typeof item.quantity === 'string' ? Number(item.quantity) : Number.NaN;
    if (!Number.isSafeInteger(quantity) || quantity < 1)
      return stripeError(400, `Missing required param: ${param}[quantity].`, `${param}[quantity]`);
    amountTotal += unitAmount * quantity;
  }
  const now = Math.floor(Date.now() / 1000);
  let expiresAt = now + 24 * 3600;
  if (body.expires_at !== undefined) {
    expiresAt = Number(body.expires_at);
    if (!Number.isSafeInteger(expiresAt))
      return stripeError(400, 'Invalid integer: expires_at.', 'expires_at');
    if (expiresAt < now + 30 * 60 || expiresAt > now + 24 * 3600)
      return stripeError(
        400,
        'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.',
        'expires_at',
      );
  }
  const metadata = stringRecord(body.metadata);
  const paymentIntentData = (body.payment_intent_data ?? {}) as { metadata?: unknown };
  const paymentMetadata = stringRecord(paymentIntentData.metadata);
  if (!metadata || !paymentMetadata) return stripeError(400, 'Invalid object: metadata.', 'metadata');
  for (const param of ['success_url', 'cancel_url'] as const) {
    const value = body[param];
    if (value !== undefined && (typeof value !== 'string' || !URL.canParse(value)))
      return stripeError(400, `Not a valid URL: ${param}.`, param);
  }
  const link: SandboxLink = {
    provider: 'stripe',
    id: providerId('cs_test_'),
    amountMinor: amountTotal,
    currency: currency!.toUpperCase(),
    description: name,
    notes: metadata,
    paymentNotes: paymentMetadata,
    referenceId: typeof body.client_reference_id === 'string' ? body.client_reference_id : null,
    returnUrl: typeof body.success_url === 'string' ? body.success_url : null,
    expiresAt,
    createdAt: now,
    status: 'open',
  };
  store.links.set(link.id, link);
  return {
    status: 200,
    body: {
      id: link.id,
      object: 'checkout.session',
      amount_subtotal: amountTotal,
      amount_total: amountTotal,
      cancel_url: typeof body.cancel_url === 'string' ? body.cancel_url : null,
      client_reference_id: link.referenceId,
      created: now,
      currency: currency,
      expires_at: expiresAt,
      livemode: false,
      metadata,
      mode: 'payment',
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      success_url: link.returnUrl,
      url: payPageUrl(config, link.id),
    },
  };
}

/** What happened to one webhook the sandbox sent to Bursar. */
export interface Delivery {
  type: string;
  eventId: string;
  status: number | null;
  /** Set when Bursar could not be reached at all. */
  error?: string;
}

/**
 * Signs a provider event with the first configured secret (the one a
 * provider uses after a rotation) and posts it to Bursar's public webhook URL,
 * through Caddy when PUBLIC_URL points there, so the production verification
 * path is the one that runs.
 */
export async function deliverEvent(
  config: SandboxConfig,
  provider: PaymentProvider,
  draft: ProviderEventDraft,
): Promise<Delivery> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'bursar-sandbox',
  };
  if (provider === 'razorpay') {
    headers['x-razorpay-signature'] = signRazorpayWebhook(draft.body, config.RAZORPAY_WEBHOOK_SECRETS[0]!);
    headers['x-razorpay-event-id'] = draft.eventId;
  } else {
    headers['stripe-signature'] = signStripeWebhook(
      draft.body,
      config.STRIPE_WEBHOOK_SECRETS[0]!,
      Math.floor(Date.now() / 1000),
    );
  }
  try {
    const response = await fetch(`${publicBase(config)}/webhooks/${provider}`, {
      method: 'POST',
      headers,
      body: draft.body,
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return { type: draft.type, eventId: draft.eventId, status: response.status };
  } catch (error) {
    return {
      type: draft.type,
      eventId: draft.eventId,
      status: null,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * Pay or Fail on the pay page: makes the payment the provider would and sends
 * its real webhook events one after the other (Razorpay: `payment.captured`
 * then `payment_link.paid`; Stripe: `checkout.session.completed` then
 * `payment_intent.succeeded`). Fail sends `payment.failed` (Razorpay) or
 * `payment_intent.payment_failed` (Stripe), which apply nothing.
 */
export async function settleLink(
  store: SandboxStore,
  config: SandboxConfig,
  link: SandboxLink,
  action: 'pay' | 'fail',
): Promise<Delivery[]> {
  const payment: SandboxPayment = {
    provider: link.provider,
    id: providerId(link.provider === 'razorpay' ? 'pay_' : 'pi_'),
    chargeId: providerId('ch_'),
    amountMinor: link.amountMinor,
    currency: link.currency,
    notes: link.paymentNotes,
    refunds: [],
  };
  let drafts: ProviderEventDraft[];
  if (action === 'pay') {
    drafts =
      link.provider === 'razorpay' ? razorpayPaidEvents(link, payment) : stripePaidEvents(link, payment);
    link.status = 'paid';
    link.paymentId = payment.id;
    store.payments.set(payment.id, payment);
  } else {
    drafts = [link.provider === 'razorpay' ? razorpayFailedEvent(payment) : stripeFailedEvent(payment)];
  }
  const deliveries: Delivery[] = [];
  for (const draft of drafts) deliveries.push(await deliverEvent(config, link.provider, draft));
  return deliveries;
}

/** A refund the sandbox processed and announced. */
export interface SandboxRefund {
  providerRefundId: string;
  delivery: Delivery;
}

/**
 * Refunds part or all of a payment and sends the provider's event
 * (`refund.processed` / `charge.refunded`). A payment the sandbox did not make
 * (a restart forgot it, or a test stored it directly) is taken to be a charge
 * of the refunded amount in `currency`, so a refund can also arrive before
 * its capture, as providers sometimes deliver them. Throws a RangeError past
 * what is left of a known payment.
 */
export async function refundPayment(
  store: SandboxStore,
  config: SandboxConfig,
  provider: PaymentProvider,
  input: { providerPaymentId: string; amountMinor: number; currency?: string },
): Promise<SandboxRefund> {
  let payment = store.payments.get(input.providerPaymentId);
  if (!payment || payment.provider !== provider) {
    payment = {
      provider,
      id: input.providerPaymentId,
      chargeId: providerId('ch_'),
      amountMinor: input.amountMinor,
      currency: (input.currency ?? 'INR').toUpperCase(),
      notes: {},
      refunds: [],
    };
    store.payments.set(payment.id, payment);
  }
  const refunded = payment.refunds.reduce((total, refund) => total + refund.amountMinor, 0);
  if (input.amountMinor > payment.amountMinor - refunded) {
    throw new RangeError(`only ${payment.amountMinor - refunded} of the payment is left to refund`);
  }
  const refundId = providerId(provider === 'razorpay' ? 'rfnd_' : 're_');
  payment.refunds.push({ id: refundId, amountMinor: input.amountMinor });
  const draft =
    provider === 'razorpay'
      ? razorpayRefundEvent(payment, refundId, input.amountMinor)
      : stripeRefundEvent(payment);
  return { providerRefundId: refundId, delivery: await deliverEvent(config, provider, draft) };
}
