import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '@bursar/platform';
import { daysFromToday, freePort, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { createTestApi } from '../testing/harness.js';

/**
 * The payment loop on one machine, through production code only: the api
 * asks the sandbox billing-webhook serves for a pay link through the real
 * REST clients (so the sandbox's checks of the providers' formats judge what
 * the clients send), Pay on the sandbox page sends the provider's signed
 * webhooks to billing-webhook, and the worker applies them. billing-webhook
 * and the worker run as they are deployed (their main.ts under tsx), as child
 * processes: a service never imports another.
 */
const servicesDir = fileURLToPath(new URL('../../..', import.meta.url));
const prefix = testQueuePrefix();
const webhookPort = await freePort();
const publicUrl = `http://127.0.0.1:${webhookPort}`;
// Opened now: a producer connection refuses commands until it is ready.
const redis = createRedis(testRedisUrl(), 'producer');

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

/** Starts `services/<name>/src/main.ts` with the shared test settings plus `env`. */
function startService(name: string, databaseUrl: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: `${servicesDir}/${name}`,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      DATABASE_URL: databaseUrl,
      REDIS_URL: testRedisUrl(),
      QUEUE_PREFIX: prefix,
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OUTBOX_SWEEP_INTERVAL_MS: '200',
      PAYMENTS_PROVIDER: 'sandbox',
      PUBLIC_URL: publicUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  children.push(child);
  return { child, output: () => output };
}

/** Waits for a service's /healthz (or its exit, which fails with its output). */
async function healthy(url: string, service: ReturnType<typeof startService>) {
  for (;;) {
    if (service.child.exitCode !== null)
      throw new Error(`exited ${service.child.exitCode}:\n${service.output()}`);
    const ok = await fetch(`${url}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('pay link → sandbox → Pay → webhooks → worker → paid', async () => {
  // No API base overrides: the api finds the sandbox from PUBLIC_URL, as `pnpm start` does.
  const api = await createTestApi({ env: { PAYMENTS_PROVIDER: 'sandbox', PUBLIC_URL: publicUrl } });
  const webhook = startService('billing-webhook', api.databaseUrl, { WEBHOOK_PORT: String(webhookPort) });
  const worker = startService('worker', api.databaseUrl, { WORKER_PORT: String(await freePort()) });
  await healthy(publicUrl, webhook);

  const schoolId = await api.createSchool({ name: 'Sandbox Valley School' });
  const accountant = await api.callerFor('accountant', schoolId);
  const studentId = await api.rows.student(schoolId);

  async function paidThroughSandbox(provider: 'razorpay' | 'stripe', amountMinor: number) {
    const invoice = await api
      .build(accountant)
      .invoice({ studentId, dueDate: daysFromToday(20, 'Asia/Kolkata'), amountMinor });
    const link = await api.request(accountant, 'POST', `/api/invoices/${invoice.id}/payment-link`, {
      body: { provider },
    });
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    expect(link.body.url.startsWith(`${publicUrl}/webhooks/sandbox/pay/`)).toBe(true);

    const page = await fetch(link.body.url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(invoice.number);
    expect(html).toContain(`Invoice ${invoice.number}, Sandbox Valley School`);

    const paid = await fetch(link.body.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: publicUrl },
      body: 'action=pay',
    });
    expect(paid.status).toBe(200);
    expect(await paid.text()).toContain('Paid: Bursar received the webhooks');

    for (;;) {
      if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
      const now = await api.request(accountant, 'GET', `/api/invoices/${invoice.id}`);
      if (now.body.status === 'paid') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { invoice, link: link.body };
  }

  it('Razorpay: the link carries the invoice, Pay settles it once, and the payment shows both events', async () => {
    const { invoice, link } = await paidThroughSandbox('razorpay', 15_000);
    const payments = await api.request(accountant, 'GET', `/api/invoices/${invoice.id}/payments`);
    expect(payments.body.data).toHaveLength(1);
    const [payment] = payments.body.data;
    expect(payment).toMatchObject({ amountMinor: 15_000, method: 'online', provider: 'razorpay' });
    expect(payment.providerPaymentId).toMatch(/^pay_/);
    // payment.captured then payment_link.paid: one payment, both events in its history.
    const single = await api.request(accountant, 'GET', `/api/payments/${payment.id}`);
    expect(single.body.events.map((event: { type: string }) => event.type).sort()).toEqual([
      'payment.captured',
      'payment_link.paid',
    ]);
    expect(single.body.events.map((event: { status: string }) => event.status).sort()).toEqual([
      'applied',
      'duplicate',
    ]);
    // The link is paid, so asking again is a 409, not a new link.
    const again = await api.request(accountant, 'POST', `/api/invoices/${invoice.id}/payment-link`, {
      body: { provider: 'razorpay' },
    });
    expect(again.status).toBe(409);
    const row = await api.db
      .selectFrom('paymentLinks')
      .select('status')
      .where('id', '=', link.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('paid');
  });

  it('Stripe: the session carries the invoice, Pay settles it once, and the payment shows both events', async () => {
    const { invoice } = await paidThroughSandbox('stripe', 8_800);
    const payments = await api.request(accountant, 'GET', `/api/invoices/${invoice.id}/payments`);
    expect(payments.body.data).toHaveLength(1);
    const [payment] = payments.body.data;
    expect(payment).toMatchObject({ amountMinor: 8_800, provider: 'stripe' });
    expect(payment.providerPaymentId).toMatch(/^pi_/);
    expect(payment.events.map((event: { type: string }) => event.type).sort()).toEqual([
      'checkout.session.completed',
      'payment_intent.succeeded',
    ]);
  });
});
