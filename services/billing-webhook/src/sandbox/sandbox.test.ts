import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import Razorpay from 'razorpay';
import Stripe from 'stripe';
import { beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_CREDENTIALS } from '@bursar/payments';
import { freshDatabase } from '@bursar/test-support';
import { startWebhookApp } from '../testing/harness.js';

const { db } = await freshDatabase();
// The development defaults: what `pnpm start` runs with.
const app = await startWebhookApp({ db });
const live = await startWebhookApp({ db, env: { PAYMENTS_PROVIDER: 'live' } });
const stripe = new Stripe('sk_test_oracle');
const razorpayBasic = `Basic ${Buffer.from(`${SANDBOX_CREDENTIALS.RAZORPAY_KEY_ID}:${SANDBOX_CREDENTIALS.RAZORPAY_KEY_SECRET}`).toString('base64')}`;
const inSeconds = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;
const notes = () => ({
  invoiceId: randomUUID(),
  schoolId: randomUUID(),
  invoiceNumber: `INV-${new Date().getFullYear()}-000042`,
});

function createRazorpayLink(body: object, authorization = razorpayBasic) {
  return fetch(`${app.url}/webhooks/sandbox/razorpay/v1/payment_links`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function razorpayLinkBody(overrides: object = {}) {
  return {
    amount: 125_050,
    currency: 'INR',
    description: 'Greenwood School — term fees',
    expire_by: inSeconds(7 * 86_400),
    reference_id: randomUUID().slice(0, 36),
    notes: notes(),
    callback_url: `${app.url}/paid`,
    callback_method: 'get',
    notify: { sms: false, email: false },
    reminder_enable: false,
    ...overrides,
  };
}

function stripeForm(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function stripeSessionFields(overrides: Record<string, string> = {}): Record<string, string> {
  const n = notes();
  return {
    mode: 'payment',
    'line_items[0][price_data][currency]': 'inr',
    'line_items[0][price_data][unit_amount]': '99900',
    'line_items[0][price_data][product_data][name]': 'Greenwood School — INV-42',
    'line_items[0][quantity]': '1',
    'metadata[invoiceId]': n.invoiceId,
    'metadata[schoolId]': n.schoolId,
    'metadata[invoiceNumber]': n.invoiceNumber,
    'payment_intent_data[metadata][invoiceId]': n.invoiceId,
    'payment_intent_data[metadata][schoolId]': n.schoolId,
    'payment_intent_data[metadata][invoiceNumber]': n.invoiceNumber,
    client_reference_id: n.invoiceId,
    success_url: `${app.url}/paid`,
    cancel_url: `${app.url}/cancelled`,
    expires_at: String(inSeconds(23 * 3600)),
    ...overrides,
  };
}

function createStripeSession(
  fields: Record<string, string>,
  authorization = `Bearer ${SANDBOX_CREDENTIALS.STRIPE_SECRET_KEY}`,
) {
  return fetch(`${app.url}/webhooks/sandbox/stripe/v1/checkout/sessions`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: stripeForm(fields),
  });
}

/**
 * The pay page's form post, as a browser on `origin` sends it (or with no
 * Origin). Through node:http, because Node's fetch decides Origin itself.
 */
function press(
  reference: string,
  action: 'pay' | 'fail',
  origin: string | null = app.url,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const body = `action=${action}`;
    const req = request(`${app.url}/webhooks/sandbox/pay/${reference}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        ...(origin ? { origin } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function storedEvents() {
  const rows = await db.selectFrom('providerEvents').selectAll().orderBy('receivedAt').execute();
  return rows.map((row) => ({
    ...row,
    headers: (typeof row.headers === 'string' ? JSON.parse(row.headers) : row.headers) as Record<
      string,
      string
    >,
    parsed: JSON.parse(row.body.toString('utf8')) as Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  }));
}

beforeEach(async () => {
  await db.deleteFrom('outbox').execute();
  await db.deleteFrom('providerEvents').execute();
});

describe('sandbox Razorpay REST', () => {
  it('creates a payment link in Razorpay’s format, its short_url the sandbox pay page', async () => {
    const body = razorpayLinkBody();
    const response = await createRazorpayLink(body);
    expect(response.status).toBe(200);
    const link = (await response.json()) as Record<string, unknown>;
    expect(link).toMatchObject({
      amount: 125_050,
      currency: 'INR',
      status: 'created',
      expire_by: body.expire_by,
      notes: body.notes,
      reference_id: body.reference_id,
    });
    expect(link.id).toMatch(/^plink_/);
    expect(link.short_url).toBe(`${app.url}/webhooks/sandbox/pay/${String(link.id)}`);
    expect(typeof link.created_at).toBe('number');
  });

  it('refuses bad credentials with 401 and bad fields with 400, in Razorpay’s error format', async () => {
    const wrong = `Basic ${Buffer.from(`${SANDBOX_CREDENTIALS.RAZORPAY_KEY_ID}:nope`).toString('base64')}`;
    for (const authorization of [wrong, '']) {
      const response = await createRazorpayLink(razorpayLinkBody(), authorization);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'BAD_REQUEST_ERROR' } });
    }
    const reused = razorpayLinkBody();
    expect((await createRazorpayLink(reused)).status).toBe(200);
    for (const bad of [
      razorpayLinkBody({ amount: undefined }),
      razorpayLinkBody({ amount: 10.5 }),
      razorpayLinkBody({ currency: 'rupees' }),
      razorpayLinkBody({ expire_by: inSeconds(60) }),
      razorpayLinkBody({ reference_id: 'x'.repeat(41) }),
      { ...reused },
    ]) {
      const response = await createRazorpayLink(bad);
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { error: { code: string; description: string } };
      expect(answer.error.code).toBe('BAD_REQUEST_ERROR');
      expect(answer.error.description.length).toBeGreaterThan(0);
    }
  });
});

describe('sandbox Stripe REST', () => {
  it('creates a Checkout Session from a form-encoded body, in Stripe’s format', async () => {
    const fields = stripeSessionFields();
    const response = await createStripeSession(fields);
    expect(response.status).toBe(200);
    const session = (await response.json()) as Record<string, unknown>;
    expect(session).toMatchObject({
      object: 'checkout.session',
      amount_total: 99_900,
      currency: 'inr',
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      expires_at: Number(fields.expires_at),
      client_reference_id: fields.client_reference_id,
      metadata: {
        invoiceId: fields['metadata[invoiceId]'],
        schoolId: fields['metadata[schoolId]'],
        invoiceNumber: fields['metadata[invoiceNumber]'],
      },
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.url).toBe(`${app.url}/webhooks/sandbox/pay/${String(session.id)}`);
  });

  it('refuses a bad key with 401 and bad fields with 400, in Stripe’s error format', async () => {
    for (const authorization of ['Bearer sk_test_wrong', '']) {
      const response = await createStripeSession(stripeSessionFields(), authorization);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    }
    for (const overrides of [
      { mode: 'subscription' },
      { 'line_items[0][price_data][unit_amount]': '12.5' },
      { 'line_items[0][price_data][currency]': 'INR' },
      { expires_at: String(inSeconds(25 * 3600)) },
      { expires_at: String(inSeconds(10 * 60)) },
    ] as Record<string, string>[]) {
      const response = await createStripeSession(stripeSessionFields(overrides));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    }
  });
});

describe('sandbox pay page', () => {
  it('shows the amount, invoice and description, then Pay sends payment.captured and payment_link.paid, correctly signed', async () => {
    const body = razorpayLinkBody();
    const link = (await (await createRazorpayLink(body)).json()) as { id: string; short_url: string };
    const page = await fetch(link.short_url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('₹1,250.50');
    expect(html).toContain(body.notes.invoiceNumber);
    expect(html).toContain('Greenwood School — term fees');
    expect(html).toContain('name="action" value="pay"');
    expect(html).not.toContain('<script');

    const paid = await press(link.id, 'pay');
    expect(paid.status).toBe(200);
    expect(paid.text).toContain('HTTP 200');

    const events = await storedEvents();
    expect(events.map((event) => event.eventType)).toEqual(['payment.captured', 'payment_link.paid']);
    expect(new Set(events.map((event) => event.eventId)).size).toBe(2);
    const [captured, linkPaid] = events;
    const paymentId = captured!.parsed.payload.payment.entity.id as string;
    expect(paymentId).toMatch(/^pay_/);
    expect(linkPaid!.parsed.payload.payment.entity.id).toBe(paymentId);
    expect(linkPaid!.parsed.payload.payment_link.entity).toMatchObject({
      id: link.id,
      status: 'paid',
      amount_paid: 125_050,
    });
    expect(captured!.parsed.payload.payment.entity).toMatchObject({
      amount: 125_050,
      currency: 'INR',
      status: 'captured',
      notes: body.notes,
    });
    for (const event of events) {
      // The official package agrees with what reached Bursar, byte for byte.
      expect(
        Razorpay.validateWebhookSignature(
          event.body.toString('utf8'),
          event.headers['x-razorpay-signature']!,
          SANDBOX_CREDENTIALS.RAZORPAY_WEBHOOK_SECRETS,
        ),
      ).toBe(true);
      expect(event.headers['x-razorpay-event-id']).toBe(event.eventId);
    }
    expect(await fetch(link.short_url).then((r) => r.text())).toContain('Paid');
    const index = await fetch(`${app.url}/webhooks/sandbox`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain(`href="sandbox/pay/${link.id}"`);
  });

  it('Pay on a Stripe session sends checkout.session.completed then payment_intent.succeeded for one PaymentIntent', async () => {
    const fields = stripeSessionFields();
    const session = (await (await createStripeSession(fields)).json()) as { id: string; url: string };
    expect(await fetch(session.url).then((r) => r.text())).toContain('₹999.00');
    expect((await press(session.id, 'pay')).status).toBe(200);
    const events = await storedEvents();
    expect(events.map((event) => event.eventType)).toEqual([
      'checkout.session.completed',
      'payment_intent.succeeded',
    ]);
    const [completed, succeeded] = events.map((event) =>
      stripe.webhooks.constructEvent(
        event.body.toString('utf8'),
        event.headers['stripe-signature']!,
        SANDBOX_CREDENTIALS.STRIPE_WEBHOOK_SECRETS,
        300,
      ),
    );
    const sessionObject = completed!.data.object as unknown as Record<string, unknown>;
    const intent = succeeded!.data.object as unknown as Record<string, unknown>;
    expect(sessionObject).toMatchObject({
      id: session.id,
      amount_total: 99_900,
      currency: 'inr',
      payment_status: 'paid',
      status: 'complete',
    });
    expect(intent).toMatchObject({ object: 'payment_intent', amount_received: 99_900, status: 'succeeded' });
    expect(sessionObject.payment_intent).toBe(intent.id);
    expect(intent.metadata).toEqual({
      invoiceId: fields['payment_intent_data[metadata][invoiceId]'],
      schoolId: fields['payment_intent_data[metadata][schoolId]'],
      invoiceNumber: fields['payment_intent_data[metadata][invoiceNumber]'],
    });
  });

  it('Fail sends payment.failed (Razorpay) and an event Bursar ignores (Stripe)', async () => {
    const link = (await (await createRazorpayLink(razorpayLinkBody())).json()) as { id: string };
    const session = (await (await createStripeSession(stripeSessionFields())).json()) as { id: string };
    expect((await press(link.id, 'fail')).status).toBe(200);
    expect((await press(session.id, 'fail')).status).toBe(200);
    const events = await storedEvents();
    expect(events.map((event) => [event.eventType, event.status])).toEqual([
      ['payment.failed', 'received'],
      ['payment_intent.payment_failed', 'ignored'],
    ]);
  });

  it('accepts Pay from its own origin only, and says a restart forgets links for an unknown reference', async () => {
    const link = (await (await createRazorpayLink(razorpayLinkBody())).json()) as { id: string };
    for (const origin of ['https://evil.example', null]) {
      const response = await press(link.id, 'pay', origin);
      expect(response.status).toBe(403);
      expect(response.type).toMatch(/problem\+json/);
    }
    expect(await storedEvents()).toEqual([]);
    expect((await press(link.id, 'pay')).status).toBe(200);
    expect(await storedEvents()).toHaveLength(2);
    const unknown = await fetch(`${app.url}/webhooks/sandbox/pay/plink_gone`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toMatch(/restart/);
  });

  it('sends a signed refund event for a payment through the refunds endpoint', async () => {
    const link = (await (await createRazorpayLink(razorpayLinkBody())).json()) as { id: string };
    await press(link.id, 'pay');
    const paymentId = app.store.links.get(link.id)!.paymentId!;
    const refund = await fetch(`${app.url}/webhooks/sandbox/razorpay/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ providerPaymentId: paymentId, amountMinor: 50_000 }),
    });
    expect(refund.status).toBe(200);
    expect(await refund.json()).toMatchObject({ type: 'refund.processed', deliveredStatus: 200 });
    const stored = (await storedEvents()).at(-1)!;
    expect(stored.eventType).toBe('refund.processed');
    expect(stored.parsed.payload.refund.entity).toMatchObject({
      amount: 50_000,
      currency: 'INR',
      payment_id: paymentId,
      status: 'processed',
    });

    const tooMuch = await fetch(`${app.url}/webhooks/sandbox/razorpay/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ providerPaymentId: paymentId, amountMinor: 100_000 }),
    });
    expect(tooMuch.status).toBe(422);

    const stripeRefund = await fetch(`${app.url}/webhooks/sandbox/stripe/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ providerPaymentId: 'pi_NotFromTheSandbox', amountMinor: 700, currency: 'inr' }),
    });
    expect(await stripeRefund.json()).toMatchObject({ type: 'charge.refunded', deliveredStatus: 200 });
    const charge = (await storedEvents()).at(-1)!.parsed.data.object;
    expect(charge).toMatchObject({
      object: 'charge',
      payment_intent: 'pi_NotFromTheSandbox',
      amount_refunded: 700,
    });
    expect(charge.refunds.data).toHaveLength(1);
  });

  it('does not exist when PAYMENTS_PROVIDER=live', async () => {
    const response = await fetch(`${live.url}/webhooks/sandbox/razorpay/v1/payment_links`, {
      method: 'POST',
      headers: { authorization: razorpayBasic, 'content-type': 'application/json' },
      body: JSON.stringify(razorpayLinkBody()),
    });
    expect(response.status).toBe(404);
    expect((await fetch(`${live.url}/webhooks/sandbox/pay/plink_x`)).status).toBe(404);
  });
});
