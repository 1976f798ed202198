import { createHmac, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { beforeEach, describe, expect, it } from 'vitest';
import { registry } from '@bursar/platform';
import { freshDatabase } from '@bursar/test-support';
import { startWebhookApp } from '../testing/harness.js';

const { db } = await freshDatabase();
const RZP_NEW = 'rzp_whsec_new_0001';
const RZP_OLD = 'rzp_whsec_old_0001';
const STRIPE_NEW = 'whsec_stripe_new_0001';
const STRIPE_OLD = 'whsec_stripe_old_0001';
const app = await startWebhookApp({
  db,
  env: {
    RAZORPAY_WEBHOOK_SECRETS: `${RZP_NEW},${RZP_OLD}`,
    STRIPE_WEBHOOK_SECRETS: `${STRIPE_NEW}, ${STRIPE_OLD}`,
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: '300',
  },
});
const stripe = new Stripe('sk_test_oracle');

/** A payment.captured in Razorpay's format, with bytes JSON.stringify would not produce (spacing, ₹). */
function razorpayCaptured(
  paymentId = `pay_${randomUUID().slice(0, 14)}`,
  event = 'payment.captured',
): Buffer {
  return Buffer.from(
    `{"entity":"event","account_id":"acc_Test","event":"${event}","contains":["payment"],  ` +
      `"payload":{"payment":{"entity":{"id":"${paymentId}","entity":"payment","amount":125000,"currency":"INR",` +
      `"status":"captured","order_id":"order_1","method":"upi","notes":{"invoiceNumber":"INV-₹-7"},` +
      `"created_at":${Math.floor(Date.now() / 1000)}}}},"created_at":${Math.floor(Date.now() / 1000)}}`,
  );
}

/** Razorpay's signature, computed here with node:crypto rather than the code under test. */
function razorpaySignature(body: Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function postRazorpay(body: Buffer, headers: Record<string, string>) {
  return fetch(`${app.url}/webhooks/razorpay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

function stripeEvent(
  id = `evt_${randomUUID().replaceAll('-', '')}`,
  type = 'payment_intent.succeeded',
): Buffer {
  return Buffer.from(
    JSON.stringify({
      id,
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      api_version: '2025-06-30.basil',
      livemode: false,
      data: { object: { id: 'pi_1', object: 'payment_intent', amount: 5000, currency: 'inr', metadata: {} } },
    }),
  );
}

function postStripe(body: Buffer, signature?: string) {
  return fetch(`${app.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
    body,
  });
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const found = metric?.values.find((value) =>
    Object.entries(labels).every(([key, label]) => value.labels[key] === label),
  );
  return found?.value ?? 0;
}

async function storedCount(): Promise<{ events: number; outbox: number }> {
  const events = await db
    .selectFrom('providerEvents')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  const outbox = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return { events: Number(events.n), outbox: Number(outbox.n) };
}

beforeEach(async () => {
  await db.deleteFrom('outbox').execute();
  await db.deleteFrom('providerEvents').execute();
});

describe('POST /webhooks/razorpay', () => {
  it('stores a verified event byte-exact with all its headers and puts its apply job in the outbox', async () => {
    const body = razorpayCaptured('pay_Stored0001');
    const eventId = `evt_${randomUUID()}`;
    const response = await postRazorpay(body, {
      'x-razorpay-signature': razorpaySignature(body, RZP_NEW),
      'x-razorpay-event-id': eventId,
      'x-custom-trace': 'kept',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
    const row = await db
      .selectFrom('providerEvents')
      .selectAll()
      .where('eventId', '=', eventId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ provider: 'razorpay', eventType: 'payment.captured', status: 'received' });
    expect(Buffer.compare(row.body, body)).toBe(0);
    const headers = (typeof row.headers === 'string' ? JSON.parse(row.headers) : row.headers) as Record<
      string,
      string
    >;
    expect(headers['x-razorpay-event-id']).toBe(eventId);
    expect(headers['x-custom-trace']).toBe('kept');
    expect(headers['content-type']).toBe('application/json');
    const jobs = await db.selectFrom('outbox').select(['jobName', 'queue', 'jobId']).execute();
    expect(jobs).toEqual([
      { jobName: 'payment-event.apply', queue: 'payments', jobId: `payment-event.${row.id}` },
    ]);
  });

  it('answers ten concurrent deliveries of one event with 200 and stores it, and its job, once', async () => {
    const body = razorpayCaptured();
    const headers = {
      'x-razorpay-signature': razorpaySignature(body, RZP_NEW),
      'x-razorpay-event-id': 'evt_concurrent',
    };
    const duplicatesBefore = await counter('webhooks_received_total', {
      provider: 'razorpay',
      outcome: 'duplicate',
    });
    const responses = await Promise.all(Array.from({ length: 10 }, () => postRazorpay(body, headers)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await storedCount()).toEqual({ events: 1, outbox: 1 });
    expect(
      (await counter('webhooks_received_total', { provider: 'razorpay', outcome: 'duplicate' })) -
        duplicatesBefore,
    ).toBe(9);
  });

  it('verifies with the old and the new secret during a rotation', async () => {
    for (const secret of [RZP_OLD, RZP_NEW]) {
      const body = razorpayCaptured();
      const response = await postRazorpay(body, {
        'x-razorpay-signature': razorpaySignature(body, secret),
        'x-razorpay-event-id': `evt_${randomUUID()}`,
      });
      expect(response.status).toBe(200);
    }
    expect(await storedCount()).toEqual({ events: 2, outbox: 2 });
  });

  it('refuses a tampered body, a wrong secret, a missing or garbage header with 400, storing nothing', async () => {
    const body = razorpayCaptured();
    const good = razorpaySignature(body, RZP_NEW);
    const tampered = Buffer.from(body.toString().replace('125000', '125001'));
    const cases: [Buffer, Record<string, string>, string][] = [
      [tampered, { 'x-razorpay-signature': good }, 'mismatch'],
      [body, { 'x-razorpay-signature': razorpaySignature(body, 'not-the-secret') }, 'mismatch'],
      [body, {}, 'missing_header'],
      [body, { 'x-razorpay-signature': 'garbage' }, 'malformed_header'],
      [body, { 'x-razorpay-signature': `${good}0` }, 'malformed_header'],
    ];
    for (const [payload, headers, reason] of cases) {
      const before = await counter('webhooks_rejected_total', { provider: 'razorpay', reason });
      const response = await postRazorpay(payload, {
        'x-razorpay-event-id': `evt_${randomUUID()}`,
        ...headers,
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await response.json()).toMatchObject({ status: 400, code: 'bad_webhook_signature' });
      expect(await counter('webhooks_rejected_total', { provider: 'razorpay', reason })).toBe(before + 1);
    }
    expect(await storedCount()).toEqual({ events: 0, outbox: 0 });
  });

  it('stores an event type Bursar does not handle as ignored, with no job, and answers 200', async () => {
    const body = razorpayCaptured(undefined, 'subscription.charged');
    const response = await postRazorpay(body, {
      'x-razorpay-signature': razorpaySignature(body, RZP_NEW),
      'x-razorpay-event-id': 'evt_unknown_type',
    });
    expect(response.status).toBe(200);
    const rows = await db.selectFrom('providerEvents').select(['eventType', 'status']).execute();
    expect(rows).toEqual([{ eventType: 'subscription.charged', status: 'ignored' }]);
    expect((await storedCount()).outbox).toBe(0);
  });

  it('refuses a body over 256 KB with 413 problem+json', async () => {
    const body = Buffer.alloc(256 * 1024 + 1, 'a');
    const response = await postRazorpay(body, {
      'x-razorpay-signature': razorpaySignature(body, RZP_NEW),
      'x-razorpay-event-id': 'evt_big',
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'payload_too_large' });
    expect(await storedCount()).toEqual({ events: 0, outbox: 0 });
  });

  it('writes no secret, signature or body into its logs', async () => {
    const body = razorpayCaptured('pay_LogCheck0001');
    const signature = razorpaySignature(body, RZP_NEW);
    await postRazorpay(body, { 'x-razorpay-signature': signature, 'x-razorpay-event-id': 'evt_logs' });
    await postRazorpay(body, {
      'x-razorpay-signature': signature.replace(/^./, '0'),
      'x-razorpay-event-id': 'evt_logs2',
    });
    const logs = app.logs.join('');
    expect(logs).toContain('/webhooks/razorpay');
    for (const secret of [RZP_NEW, RZP_OLD, signature, 'pay_LogCheck0001', 'INV-₹-7'])
      expect(logs).not.toContain(secret);
  });
});

describe('POST /webhooks/stripe', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (body: Buffer, secret: string, timestamp = now()) =>
    stripe.webhooks.generateTestHeaderString({ payload: body.toString(), secret, timestamp });

  it('stores an event signed by the official stripe package, with either secret of a rotation', async () => {
    for (const secret of [STRIPE_NEW, STRIPE_OLD]) {
      const body = stripeEvent();
      const response = await postStripe(body, sign(body, secret));
      expect(response.status).toBe(200);
    }
    const rows = await db.selectFrom('providerEvents').select(['provider', 'eventType', 'status']).execute();
    expect(rows).toEqual(
      Array(2).fill({ provider: 'stripe', eventType: 'payment_intent.succeeded', status: 'received' }),
    );
    expect((await storedCount()).outbox).toBe(2);
  });

  it('refuses a stale timestamp, a tampered body, a wrong secret, a missing or garbage header', async () => {
    const body = stripeEvent();
    const cases: [Buffer, string | undefined, string][] = [
      [body, sign(body, STRIPE_NEW, now() - 301), 'stale_timestamp'],
      [Buffer.from(body.toString().replace('5000', '5001')), sign(body, STRIPE_NEW), 'mismatch'],
      [body, sign(body, 'whsec_wrong'), 'mismatch'],
      [body, undefined, 'missing_header'],
      [body, 't=now,v1=zz', 'malformed_header'],
    ];
    for (const [payload, signature, reason] of cases) {
      const before = await counter('webhooks_rejected_total', { provider: 'stripe', reason });
      const response = await postStripe(payload, signature);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'bad_webhook_signature' });
      expect(await counter('webhooks_rejected_total', { provider: 'stripe', reason })).toBe(before + 1);
    }
    expect(await storedCount()).toEqual({ events: 0, outbox: 0 });
  });

  it('stores an unhandled Stripe type as ignored and a redelivery once', async () => {
    const body = stripeEvent('evt_ignored_1', 'customer.created');
    for (let i = 0; i < 2; i++) expect((await postStripe(body, sign(body, STRIPE_NEW))).status).toBe(200);
    const rows = await db.selectFrom('providerEvents').select(['eventId', 'status']).execute();
    expect(rows).toEqual([{ eventId: 'evt_ignored_1', status: 'ignored' }]);
    expect((await storedCount()).outbox).toBe(0);
  });
});
