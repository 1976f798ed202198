import type { ServerResponse } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { startRecordingServer, type SeenRequest } from '../testing/recording-server.js';
import { AppError } from '@bursar/contracts';
import { createRazorpayPaymentLink, type RazorpayLinkInput } from './links.js';

/**
 * A stand-in for api.razorpay.com: records what Bursar sent and answers what
 * the test sets (Razorpay's entity by default, built from the request as
 * Razorpay does).
 */
async function fakeRazorpay() {
  const created = (request: SeenRequest, res: ServerResponse) => {
    const body = JSON.parse(request.body);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'plink_Q1w2e3r4t5y6u7',
        short_url: 'https://rzp.io/rzp/Q1w2e3r4',
        amount: body.amount,
        amount_paid: 0,
        currency: body.currency,
        status: 'created',
        expire_by: body.expire_by,
        notes: body.notes,
        reference_id: body.reference_id,
        created_at: Math.floor(Date.now() / 1000),
      }),
    );
  };
  return startRecordingServer(created);
}

const client = { keyId: 'rzp_test_key_id_42', keySecret: 'very-secret-razorpay-key' };

function linkInput(overrides: Partial<RazorpayLinkInput> = {}): RazorpayLinkInput {
  return {
    amountMinor: 1_234_500n,
    currency: 'INR',
    description: 'Invoice INV-2026-000042, Greenfield School',
    notes: {
      invoiceId: '0f1e2d3c-4b5a-4968-8776-655443322110',
      schoolId: '11111111-2222-4333-8444-555555555555',
      invoiceNumber: 'INV-2026-000042',
    },
    returnUrl: 'http://127.0.0.1:8080/api/pay/return?invoice=0f1e2d3c-4b5a-4968-8776-655443322110',
    // Razorpay counts expiry in whole seconds.
    expiresAt: new Date(Math.floor((Date.now() + 7 * 86_400_000) / 1000) * 1000),
    referenceId: 'a1b2c3d4-0000-4000-8000-000000000001',
    ...overrides,
  };
}

/** The AppError a call failed with (or a failure of the test when it did not fail). */
async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('createRazorpayPaymentLink', async () => {
  const razorpay = await fakeRazorpay();
  beforeEach(() => razorpay.reset());

  it('POSTs /v1/payment_links with Basic auth and the JSON body Razorpay documents, and returns the link', async () => {
    const input = linkInput();
    const link = await createRazorpayPaymentLink({ ...client, baseUrl: `${razorpay.baseUrl}/` }, input);
    expect(link).toEqual({
      providerReference: 'plink_Q1w2e3r4t5y6u7',
      url: 'https://rzp.io/rzp/Q1w2e3r4',
      expiresAt: input.expiresAt,
    });
    expect(razorpay.seen).toHaveLength(1);
    const [request] = razorpay.seen;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/v1/payment_links');
    expect(request!.headers.authorization).toBe(
      `Basic ${Buffer.from('rzp_test_key_id_42:very-secret-razorpay-key').toString('base64')}`,
    );
    expect(request!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual({
      amount: 1_234_500,
      currency: 'INR',
      description: 'Invoice INV-2026-000042, Greenfield School',
      expire_by: input.expiresAt.getTime() / 1000,
      reference_id: 'a1b2c3d4-0000-4000-8000-000000000001',
      notes: {
        invoiceId: '0f1e2d3c-4b5a-4968-8776-655443322110',
        schoolId: '11111111-2222-4333-8444-555555555555',
        invoiceNumber: 'INV-2026-000042',
      },
      callback_url: input.returnUrl,
      callback_method: 'get',
      notify: { sms: false, email: false },
      reminder_enable: false,
    });
    // Integers, never floats or strings, as Razorpay wants paise.
    expect(request!.body).toContain('"amount":1234500,');
  });

  it("turns Razorpay's 400 into a 503 AppError naming the provider, with Razorpay's words only in the internal message", async () => {
    razorpay.answerWith((_request, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: 'BAD_REQUEST_ERROR', description: 'expire_by should be at least 15 minutes' },
        }),
      );
    });
    const error = await failure(
      createRazorpayPaymentLink({ ...client, baseUrl: razorpay.baseUrl }, linkInput()),
    );
    expect(error.code).toBe('service_unavailable');
    expect(error.detail).toBe('Razorpay refused to create the payment link; try again shortly');
    expect(error.message).toContain(
      'answered 400: BAD_REQUEST_ERROR expire_by should be at least 15 minutes',
    );
  });

  it('turns a 401 (bad keys) into a 503 that says to check the keys, and never repeats the credentials', async () => {
    razorpay.answerWith((_request, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'BAD_REQUEST_ERROR', description: 'Authentication failed' } }));
    });
    const error = await failure(
      createRazorpayPaymentLink({ ...client, baseUrl: razorpay.baseUrl }, linkInput()),
    );
    expect(error.code).toBe('service_unavailable');
    expect(error.message).toContain('answered 401');
    expect(error.message).toContain('check the API keys');
    const everything = JSON.stringify({ detail: error.detail, message: error.message, stack: error.stack });
    expect(everything).not.toContain(client.keySecret);
    expect(everything).not.toContain(Buffer.from(`${client.keyId}:${client.keySecret}`).toString('base64'));
  });

  it('gives up after the timeout with a 503', async () => {
    razorpay.answerWith(() => {
      // Never answers.
    });
    const error = await failure(
      createRazorpayPaymentLink({ ...client, baseUrl: razorpay.baseUrl, timeoutMs: 200 }, linkInput()),
    );
    expect(error.code).toBe('service_unavailable');
    expect(error.detail).toBe('Razorpay could not be reached; try again shortly');
    expect(error.message).toContain('no answer in 200 ms');
  });

  it('answers 503 when Razorpay cannot be reached, or answers something that is not a payment link', async () => {
    const unreachable = await failure(
      createRazorpayPaymentLink({ ...client, baseUrl: 'http://127.0.0.1:1' }, linkInput()),
    );
    expect(unreachable.code).toBe('service_unavailable');
    expect(unreachable.message).toContain('unreachable');

    razorpay.answerWith((_request, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    const html = await failure(
      createRazorpayPaymentLink({ ...client, baseUrl: razorpay.baseUrl }, linkInput()),
    );
    expect(html.code).toBe('service_unavailable');
    expect(html.message).toContain('not JSON');

    razorpay.answerWith((_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'plink_x' }));
    });
    const shapeless = await failure(
      createRazorpayPaymentLink({ ...client, baseUrl: razorpay.baseUrl }, linkInput()),
    );
    expect(shapeless.code).toBe('service_unavailable');
    expect(shapeless.message).toContain('unexpected answer');
  });
});
