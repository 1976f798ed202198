import type { ServerResponse } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { startRecordingServer, type SeenRequest } from '../testing/recording-server.js';
import { AppError, type ErrorCode } from '@bursar/contracts';
import type { CreateLinkInput } from '../types.js';
import { createStripeCheckoutSession } from './links.js';

/**
 * A stand-in for api.stripe.com: records what Bursar sent and answers what the
 * test sets (a Checkout Session built from the form, as Stripe does, by default).
 */
async function fakeStripe() {
  const created = (request: SeenRequest, res: ServerResponse) => {
    const form = new URLSearchParams(request.body);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'cs_test_a1B2c3D4e5F6',
        object: 'checkout.session',
        url: 'https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6',
        amount_total: Number(form.get('line_items[0][price_data][unit_amount]')),
        currency: form.get('line_items[0][price_data][currency]'),
        metadata: {
          invoiceId: form.get('metadata[invoiceId]'),
          schoolId: form.get('metadata[schoolId]'),
          invoiceNumber: form.get('metadata[invoiceNumber]'),
        },
        payment_intent: null,
        payment_status: 'unpaid',
        status: 'open',
        expires_at: Number(form.get('expires_at')),
      }),
    );
  };
  return startRecordingServer(created);
}

const secretKey = 'sk_test_very_secret_stripe_key';

function sessionInput(overrides: Partial<CreateLinkInput> = {}): CreateLinkInput {
  return {
    amountMinor: 250_075n,
    currency: 'INR',
    description: 'Invoice INV-2026-000007 & books, Greenfield School',
    notes: {
      invoiceId: '0f1e2d3c-4b5a-4968-8776-655443322110',
      schoolId: '11111111-2222-4333-8444-555555555555',
      invoiceNumber: 'INV-2026-000007',
    },
    returnUrl: 'http://127.0.0.1:8080/api/pay/return?invoice=0f1e2d3c-4b5a-4968-8776-655443322110',
    expiresAt: new Date(Math.floor((Date.now() + 23 * 3_600_000) / 1000) * 1000),
    ...overrides,
  };
}

async function failure(
  promise: Promise<unknown>,
  code: ErrorCode = 'service_unavailable',
): Promise<AppError> {
  const error = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describe('createStripeCheckoutSession', async () => {
  const stripe = await fakeStripe();
  beforeEach(() => stripe.reset());

  it('POSTs /v1/checkout/sessions with a Bearer key and the form fields Stripe documents, and returns the session', async () => {
    const input = sessionInput();
    const link = await createStripeCheckoutSession({ baseUrl: stripe.baseUrl, secretKey }, input);
    expect(link).toEqual({
      providerReference: 'cs_test_a1B2c3D4e5F6',
      url: 'https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6',
      expiresAt: input.expiresAt,
    });
    expect(stripe.seen).toHaveLength(1);
    const [request] = stripe.seen;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/v1/checkout/sessions');
    expect(request!.headers.authorization).toBe(`Bearer ${secretKey}`);
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const expiresAt = String(input.expiresAt.getTime() / 1000);
    expect([...new URLSearchParams(request!.body)]).toEqual([
      ['mode', 'payment'],
      ['line_items[0][price_data][currency]', 'inr'],
      ['line_items[0][price_data][unit_amount]', '250075'],
      ['line_items[0][price_data][product_data][name]', 'Invoice INV-2026-000007 & books, Greenfield School'],
      ['line_items[0][quantity]', '1'],
      ['metadata[invoiceId]', '0f1e2d3c-4b5a-4968-8776-655443322110'],
      ['metadata[schoolId]', '11111111-2222-4333-8444-555555555555'],
      ['metadata[invoiceNumber]', 'INV-2026-000007'],
      ['payment_intent_data[metadata][invoiceId]', '0f1e2d3c-4b5a-4968-8776-655443322110'],
      ['payment_intent_data[metadata][schoolId]', '11111111-2222-4333-8444-555555555555'],
      ['payment_intent_data[metadata][invoiceNumber]', 'INV-2026-000007'],
      ['client_reference_id', '0f1e2d3c-4b5a-4968-8776-655443322110'],
      ['success_url', input.returnUrl],
      ['cancel_url', input.returnUrl],
      ['expires_at', expiresAt],
    ]);
    // Bracket notation readable on the wire, values percent-encoded (the & in the name must not split a field).
    expect(request!.body).toContain('line_items[0][price_data][currency]=inr&');
    expect(request!.body).toContain('%26%20books');
  });

  it("turns Stripe's invalid_request_error into a 503 AppError, with Stripe's words only in the internal message", async () => {
    stripe.answerWith((_request, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            type: 'invalid_request_error',
            message: 'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
          },
        }),
      );
    });
    const error = await failure(
      createStripeCheckoutSession({ baseUrl: stripe.baseUrl, secretKey }, sessionInput()),
    );
    expect(error.detail).toBe('Stripe refused to create the payment link; try again shortly');
    expect(error.message).toContain('answered 400: invalid_request_error The `expires_at` timestamp');
  });

  it('turns a 401 into a 503 that says to check the keys, without the key anywhere in the error', async () => {
    stripe.answerWith((_request, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_***_key' },
        }),
      );
    });
    const error = await failure(
      createStripeCheckoutSession({ baseUrl: stripe.baseUrl, secretKey }, sessionInput()),
    );
    expect(error.message).toContain('check the API keys');
    expect(
      JSON.stringify({ detail: error.detail, message: error.message, stack: error.stack }),
    ).not.toContain(secretKey);
  });

  it('answers 503 on a timeout, a server error, and an answer without a session url', async () => {
    stripe.answerWith(() => {
      // Never answers.
    });
    const slow = await failure(
      createStripeCheckoutSession({ baseUrl: stripe.baseUrl, secretKey, timeoutMs: 200 }, sessionInput()),
    );
    expect(slow.detail).toBe('Stripe could not be reached; try again shortly');

    stripe.answerWith((_request, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: 'Something went wrong' } }));
    });
    const broken = await failure(
      createStripeCheckoutSession({ baseUrl: stripe.baseUrl, secretKey }, sessionInput()),
    );
    expect(broken.message).toContain('answered 500: api_error');

    stripe.answerWith((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'cs_test_x', object: 'checkout.session', url: null }));
    });
    const shapeless = await failure(
      createStripeCheckoutSession({ baseUrl: stripe.baseUrl, secretKey }, sessionInput()),
    );
    expect(shapeless.message).toContain('unexpected answer');
  });
});
