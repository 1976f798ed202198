/* eslint-disable @typescript-eslint/no-explicit-any -- request bodies are whatever the api sent */
/**
 * Razorpay's and Stripe's REST APIs as the api tests need them: a local HTTP
 * server that checks each request as the provider would (credentials, content
 * type, required fields) and answers in the provider's format, records every
 * call, and can be told to fail or to hold its answer. Point the api at it
 * with `env` (passed to `createTestApi({ env })`). Used only by tests.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { startApp } from '@bursar/test-support';

/** Credentials the fake accepts; `env` configures the api with them. */
export const FAKE_CREDENTIALS = {
  RAZORPAY_KEY_ID: 'rzp_test_fake_key',
  RAZORPAY_KEY_SECRET: 'fake_razorpay_secret_9f8e7d',
  STRIPE_SECRET_KEY: 'sk_test_fake_stripe_secret_1a2b3c',
} as const;

/** One request the fake received, as the provider would read it. */
export interface ProviderCall {
  provider: 'razorpay' | 'stripe';
  path: string;
  headers: Request['headers'];
  /** Razorpay: the JSON body; Stripe: the form fields, flat (`metadata[invoiceId]` keys). */
  body: Record<string, any>;
}

/** How the fake answers the next requests. */
export type FakeMode =
  | { kind: 'ok' }
  | { kind: 'error'; status: number }
  /** Never answers (the api's timeout decides). */
  | { kind: 'hang' };

export interface FakeProviders {
  url: string;
  /** Config variables that point the api at this fake. */
  env: Record<string, string>;
  calls: ProviderCall[];
  /** Sets how both providers answer from now on. */
  setMode(mode: FakeMode): void;
  /** Holds every answer until `release()`: lets concurrent requests pile up at the provider. */
  hold(): void;
  release(): void;
  /** Back to answering at once, successfully, with no calls recorded. */
  reset(): void;
}

const id = (prefix: string) => `${prefix}${randomBytes(7).toString('hex')}`;

/** Starts the fake on an ephemeral port; it closes when the file's tests end. */
export async function startFakeProviders(): Promise<FakeProviders> {
  const calls: ProviderCall[] = [];
  let mode: FakeMode = { kind: 'ok' };
  let held: (() => void)[] | null = null;

  const app = express();
  app.use('/razorpay', express.json());
  app.use('/stripe', express.urlencoded({ extended: false }));

  /** Records the call, then waits while answers are held; false when the answer is up to the mode. */
  async function admit(provider: ProviderCall['provider'], req: Request, res: Response): Promise<boolean> {
    calls.push({ provider, path: req.path, headers: req.headers, body: req.body ?? {} });
    if (held) await new Promise<void>((resolve) => held!.push(resolve));
    if (mode.kind === 'hang') return false;
    if (mode.kind === 'error') {
      res
        .status(mode.status)
        .json(
          provider === 'razorpay'
            ? { error: { code: 'SERVER_ERROR', description: 'The fake was told to fail' } }
            : { error: { type: 'api_error', message: 'The fake was told to fail' } },
        );
      return false;
    }
    return true;
  }

  app.post('/razorpay/v1/payment_links', async (req, res) => {
    if (!(await admit('razorpay', req, res))) return;
    const expected = `Basic ${Buffer.from(`${FAKE_CREDENTIALS.RAZORPAY_KEY_ID}:${FAKE_CREDENTIALS.RAZORPAY_KEY_SECRET}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.status(401).json({ error: { code: 'BAD_REQUEST_ERROR', description: 'Authentication failed' } });
      return;
    }
    const body = req.body ?? {};
    const problem = !req.is('application/json')
      ? 'content type must be application/json'
      : !Number.isSafeInteger(body.amount) || body.amount < 100
        ? 'amount must be an integer of at least 100'
        : typeof body.currency !== 'string'
          ? 'currency is required'
          : !Number.isSafeInteger(body.expire_by) || body.expire_by * 1000 < Date.now() + 15 * 60_000
            ? 'expire_by should be at least 15 minutes after current time'
            : typeof body.reference_id !== 'string' || body.reference_id.length > 40
              ? 'reference_id is invalid'
              : null;
    if (problem) {
      res.status(400).json({ error: { code: 'BAD_REQUEST_ERROR', description: problem } });
      return;
    }
    const plink = id('plink_');
    res.json({
      id: plink,
      short_url: `https://rzp.io/rzp/${plink.slice(6)}`,
      amount: body.amount,
      amount_paid: 0,
      currency: body.currency,
      description: body.description,
      status: 'created',
      expire_by: body.expire_by,
      notes: body.notes ?? [],
      reference_id: body.reference_id,
      created_at: Math.floor(Date.now() / 1000),
    });
  });

  app.post('/stripe/v1/checkout/sessions', async (req, res) => {
    if (!(await admit('stripe', req, res))) return;
    if (req.headers.authorization !== `Bearer ${FAKE_CREDENTIALS.STRIPE_SECRET_KEY}`) {
      res.status(401).json({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      return;
    }
    const form = req.body ?? {};
    const unitAmount = Number(form['line_items[0][price_data][unit_amount]']);
    const expiresAt = Number(form.expires_at);
    const now = Date.now() / 1000;
    const problem =
      form.mode !== 'payment'
        ? 'mode must be payment'
        : !Number.isSafeInteger(unitAmount) || unitAmount < 1
          ? 'unit_amount must be a positive integer'
          : !/^[a-z]{3}$/.test(form['line_items[0][price_data][currency]'] ?? '')
            ? 'currency must be lower case'
            : !form.success_url
              ? 'success_url is required'
              : !(expiresAt >= now + 30 * 60 && expiresAt <= now + 24 * 3600)
                ? 'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.'
                : null;
    if (problem) {
      res.status(400).json({ error: { type: 'invalid_request_error', message: problem } });
      return;
    }
    const session = id('cs_test_');
    res.json({
      id: session,
      object: 'checkout.session',
      url: `https://checkout.stripe.com/c/pay/${session}`,
      amount_total: unitAmount,
      currency: form['line_items[0][price_data][currency]'],
      metadata: {
        invoiceId: form['metadata[invoiceId]'],
        schoolId: form['metadata[schoolId]'],
        invoiceNumber: form['metadata[invoiceNumber]'],
      },
      client_reference_id: form.client_reference_id,
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      expires_at: expiresAt,
    });
  });

  const { url } = await startApp(app);
  const release = () => {
    const waiting = held ?? [];
    held = null;
    for (const resolve of waiting) resolve();
  };
  return {
    url,
    env: {
      RAZORPAY_API_BASE: `${url}/razorpay`,
      STRIPE_API_BASE: `${url}/stripe`,
      ...FAKE_CREDENTIALS,
    },
    calls,
    setMode(next) {
      mode = next;
    },
    hold() {
      held ??= [];
    },
    release,
    reset() {
      release();
      mode = { kind: 'ok' };
      calls.length = 0;
    },
  };
}
