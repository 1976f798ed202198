import { describe, expect, it, beforeEach } from 'vitest';
import { sql } from 'kysely';
import { daysFromToday } from '@bursar/test-support';
import { createLogger } from '@bursar/platform';
import { createTestApi } from '../testing/harness.js';
import { FAKE_CREDENTIALS, startFakeProviders } from '../testing/fake-providers.js';

const PROBLEM = /^application\/problem\+json/;
const DAY_MS = 86_400_000;

describe('POST /api/invoices/:id/payment-link', async () => {
  const providers = await startFakeProviders();
  // Every line the app logs, at debug level, to check what reaches the logs.
  const logLines: string[] = [];
  const logger = createLogger('api-test', 'debug', { write: (line: string) => void logLines.push(line) });
  const api = await createTestApi({ env: providers.env, logger });
  const schoolId = await api.createSchool({ name: 'Greenfield Public School' });
  const otherSchoolId = await api.createSchool();
  const accountant = await api.callerFor('accountant', schoolId);
  const otherAccountant = await api.callerFor('accountant', otherSchoolId);
  const build = api.build(accountant);
  const studentId = await api.rows.student(schoolId);

  /** A fresh invoice of `amountMinor` in the school (INR). */
  const invoice = (amountMinor = 10_000) =>
    build.invoice({ studentId, dueDate: daysFromToday(30, 'Asia/Kolkata'), amountMinor });
  const requestLink = (invoiceId: string, provider: string, caller = accountant) =>
    api.request(caller, 'POST', `/api/invoices/${invoiceId}/payment-link`, { body: { provider } });
  const storedLinks = (invoiceId: string) =>
    api.db.selectFrom('paymentLinks').selectAll().where('invoiceId', '=', invoiceId).execute();

  beforeEach(() => providers.reset());

  it("creates a Razorpay Payment Link for the invoice's balance, with its ids in notes, stored and audited", async () => {
    const created = await invoice(10_000);
    await build.payment(created.id, 3_000, { method: 'cash' });
    const before = Date.now();
    const res = await requestLink(created.id, 'razorpay');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      invoiceId: created.id,
      provider: 'razorpay',
      amountMinor: 7_000,
      currency: 'INR',
      status: 'open',
    });
    expect(res.body.providerReference).toMatch(/^plink_/);
    expect(res.body.url).toBe(`https://rzp.io/rzp/${res.body.providerReference.slice(6)}`);
    // A week to pay.
    const lifetime = Date.parse(res.body.expiresAt) - before;
    expect(lifetime).toBeGreaterThan(7 * DAY_MS - 60_000);
    expect(lifetime).toBeLessThanOrEqual(7 * DAY_MS);

    expect(providers.calls).toHaveLength(1);
    const [call] = providers.calls;
    expect(call!.provider).toBe('razorpay');
    expect(call!.body).toMatchObject({
      amount: 7_000,
      currency: 'INR',
      description: `Invoice ${created.number}, Greenfield Public School`,
      expire_by: Date.parse(res.body.expiresAt) / 1000,
      reference_id: res.body.id,
      notes: { invoiceId: created.id, schoolId, invoiceNumber: created.number },
      notify: { sms: false, email: false },
      reminder_enable: false,
    });

    const [row] = await storedLinks(created.id);
    expect(row).toMatchObject({
      id: res.body.id,
      schoolId,
      provider: 'razorpay',
      providerReference: res.body.providerReference,
      amountMinor: 7_000n,
      status: 'open',
      createdBy: accountant.userId,
    });
    const audit = await api.request(
      accountant,
      'GET',
      `/api/audit?entityType=payment_link&entityId=${res.body.id}`,
    );
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({ action: 'payment_link.create', actorId: accountant.userId });
  });

  it('creates a Stripe Checkout Session (lower-case currency, metadata on the session and its PaymentIntent, 23 hours)', async () => {
    const created = await invoice(25_050);
    const before = Date.now();
    const res = await requestLink(created.id, 'stripe');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ provider: 'stripe', amountMinor: 25_050, currency: 'INR' });
    expect(res.body.providerReference).toMatch(/^cs_test_/);
    const lifetime = Date.parse(res.body.expiresAt) - before;
    expect(lifetime).toBeGreaterThan(23 * 3_600_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(23 * 3_600_000);
    const [call] = providers.calls;
    expect(call!.body).toMatchObject({
      mode: 'payment',
      'line_items[0][price_data][currency]': 'inr',
      'line_items[0][price_data][unit_amount]': '25050',
      'line_items[0][quantity]': '1',
      'metadata[invoiceId]': created.id,
      'metadata[schoolId]': schoolId,
      'metadata[invoiceNumber]': created.number,
      'payment_intent_data[metadata][invoiceId]': created.id,
      'payment_intent_data[metadata][schoolId]': schoolId,
      'payment_intent_data[metadata][invoiceNumber]': created.number,
      client_reference_id: created.id,
      expires_at: String(Date.parse(res.body.expiresAt) / 1000),
    });
    expect(call!.body.success_url).toMatch(/^http/);
    expect((await storedLinks(created.id)).map((row) => row.providerReference)).toEqual([
      res.body.providerReference,
    ]);
  });

  it('answers the open link again for the same invoice, provider and amount, and makes a new one when the amount changes', async () => {
    const created = await invoice(10_000);
    const first = await requestLink(created.id, 'razorpay');
    const again = await requestLink(created.id, 'razorpay');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(providers.calls).toHaveLength(1);

    // Another provider is another link.
    const stripe = await requestLink(created.id, 'stripe');
    expect(stripe.body.id).not.toBe(first.body.id);
    expect(providers.calls).toHaveLength(2);

    // A payment changed the balance: the open link is for the old amount.
    await build.payment(created.id, 4_000, { method: 'cash' });
    const smaller = await requestLink(created.id, 'razorpay');
    expect(smaller.body.amountMinor).toBe(6_000);
    expect(smaller.body.id).not.toBe(first.body.id);
    expect(providers.calls).toHaveLength(3);

    // An expired link is not handed out, and is marked expired.
    await api.db
      .updateTable('paymentLinks')
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where('id', '=', smaller.body.id)
      .execute();
    const fresh = await requestLink(created.id, 'razorpay');
    expect(fresh.body.id).not.toBe(smaller.body.id);
    const expired = await api.db
      .selectFrom('paymentLinks')
      .select('status')
      .where('id', '=', smaller.body.id)
      .executeTakeFirstOrThrow();
    expect(expired.status).toBe('expired');
  });

  it("refuses a balance under Razorpay's minimum with 422 before asking it; Stripe still gets its session", async () => {
    const small = await invoice(99);
    const refused = await requestLink(small.id, 'razorpay');
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]).toMatchObject({ path: 'body.provider' });
    expect(providers.calls).toHaveLength(0);
    expect((await requestLink(small.id, 'stripe')).status).toBe(201);
  });

  it('sends the payer back to a thank-you page that answers without a login and names nothing', async () => {
    const created = await invoice(10_000);
    await requestLink(created.id, 'razorpay');
    const sent = providers.calls.at(-1)!.body as { callback_url: string };
    const back = new URL(sent.callback_url);
    expect(back.pathname).toBe('/api/pay/return');
    const page = await fetch(`${api.url}${back.pathname}${back.search}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('Thank you');
    expect(html).not.toContain(created.number);
  });

  it('refuses a paid or a void invoice with 409, without asking the provider', async () => {
    const paid = await invoice(5_000);
    await build.payment(paid.id, 5_000, { method: 'cash' });
    const voided = await invoice(5_000);
    expect(
      (
        await api.request(accountant, 'POST', `/api/invoices/${voided.id}/void`, {
          body: { reason: 'Issued twice' },
        })
      ).status,
    ).toBe(200);
    for (const id of [paid.id, voided.id]) {
      const res = await requestLink(id, 'razorpay');
      expect(res.status).toBe(409);
      expect(res.headers.get('content-type')).toMatch(PROBLEM);
      expect(res.body.code).toBe('conflict');
    }
    expect(providers.calls).toHaveLength(0);
  });

  it("answers 404 for another school's invoice and an unknown one; 403 to a role without payments:write; 401 anonymous", async () => {
    const created = await invoice();
    const other = await requestLink(created.id, 'razorpay', otherAccountant);
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('not_found');
    expect((await requestLink('4b0c6a6e-0000-4000-8000-000000000000', 'razorpay')).status).toBe(404);

    const teacher = await api.callerFor('teacher', schoolId);
    const forbidden = await requestLink(created.id, 'razorpay', teacher);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('forbidden');
    const anonymous = await api.request(null, 'POST', `/api/invoices/${created.id}/payment-link`, {
      body: { provider: 'razorpay' },
    });
    expect(anonymous.status).toBe(401);
    expect(providers.calls).toHaveLength(0);
    expect(await storedLinks(created.id)).toEqual([]);

    // A platform admin reaches every school's invoices.
    expect((await requestLink(created.id, 'stripe', api.admin)).status).toBe(201);
  });

  it('refuses an unknown provider or extra fields with 422', async () => {
    const created = await invoice();
    for (const body of [{ provider: 'paypal' }, {}, { provider: 'stripe', amountMinor: 1 }]) {
      const res = await api.request(accountant, 'POST', `/api/invoices/${created.id}/payment-link`, { body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.code).toBe('validation_failed');
    }
    expect(providers.calls).toHaveLength(0);
  });

  it('makes one link, with one provider call, for concurrent requests for one invoice', async () => {
    const created = await invoice(12_345);
    providers.hold();
    // Four: each holds one of the test pool's five connections while it waits, and this test needs the fifth.
    const requests = Array.from({ length: 4 }, () => requestLink(created.id, 'razorpay'));
    // One request reaches the provider; the other three wait for the invoice's link lock.
    for (;;) {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where wait_event_type = 'Lock' and wait_event = 'advisory' and datname = current_database()`.execute(
        api.db,
      );
      if (providers.calls.length > 1 || (providers.calls.length === 1 && rows[0]!.n === 3)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    providers.release();
    const answers = await Promise.all(requests);
    expect(answers.map((res) => res.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(answers.map((res) => res.body.id)).size).toBe(1);
    expect(providers.calls).toHaveLength(1);
    expect(await storedLinks(created.id)).toHaveLength(1);
  });

  it('answers 503 problem+json when the provider fails, and stores nothing', async () => {
    const created = await invoice();
    for (const status of [500, 400, 401]) {
      providers.setMode({ kind: 'error', status });
      for (const provider of ['razorpay', 'stripe']) {
        const res = await requestLink(created.id, provider);
        expect(res.status, `${provider} ${status}`).toBe(503);
        expect(res.headers.get('content-type')).toMatch(PROBLEM);
        expect(res.body.code).toBe('service_unavailable');
        expect(res.body.detail).toMatch(/^(Razorpay|Stripe) refused to create the payment link/);
        // Nothing of the provider's answer or the credentials reaches the client.
        expect(JSON.stringify(res.body)).not.toMatch(/fake was told|secret|Basic|Bearer/);
      }
    }
    expect(await storedLinks(created.id)).toEqual([]);
    const audit = await api.request(accountant, 'GET', '/api/audit?entityType=payment_link');
    expect(
      audit.body.data.filter(
        (entry: { after: { invoiceId: string } }) => entry.after.invoiceId === created.id,
      ),
    ).toEqual([]);

    // The log says what the provider answered, for the operator, and never the credentials.
    const warnings = logLines.filter((line) => line.includes('payment provider did not create a link'));
    expect(warnings).toHaveLength(6);
    expect(warnings.join('\n')).toMatch(/Razorpay POST \S*\/v1\/payment_links answered 500: SERVER_ERROR/);
    expect(warnings.join('\n')).toContain('check the API keys');
    const everything = logLines.join('\n');
    expect(everything.length).toBeGreaterThan(0);
    for (const secret of [
      FAKE_CREDENTIALS.RAZORPAY_KEY_SECRET,
      FAKE_CREDENTIALS.STRIPE_SECRET_KEY,
      Buffer.from(`${FAKE_CREDENTIALS.RAZORPAY_KEY_ID}:${FAKE_CREDENTIALS.RAZORPAY_KEY_SECRET}`).toString(
        'base64',
      ),
    ]) {
      expect(everything).not.toContain(secret);
    }

    // Once the provider is back, the same request works.
    providers.setMode({ kind: 'ok' });
    expect((await requestLink(created.id, 'razorpay')).status).toBe(201);
  });
});
