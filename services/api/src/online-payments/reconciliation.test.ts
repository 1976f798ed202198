import { describe, expect, it } from 'vitest';
import { daysFromToday } from '@bursar/test-support';
import { createTestApi, type Caller } from '../testing/harness.js';
import { storeProviderEvent, storeReconciliationItem } from '../testing/provider-events.js';

const PROBLEM = /^application\/problem\+json/;

describe('the reconciliation inbox', async () => {
  const api = await createTestApi();
  const schoolA = await api.createSchool({ name: 'School A' });
  const schoolB = await api.createSchool({ name: 'School B' });
  const schoolUsd = await api.createSchool({
    name: 'Dollar School',
    currency: 'USD',
    timezone: 'America/New_York',
  });
  const accountantA = await api.callerFor('accountant', schoolA);
  const adminA = await api.callerFor('school_admin', schoolA);
  const accountantB = await api.callerFor('accountant', schoolB);
  const teacherA = await api.callerFor('teacher', schoolA);
  const guardianA = await api.callerFor('guardian', schoolA);

  const invoiceIn = async (schoolId: string, caller: Caller, amountMinor = 10_000) =>
    api.build(caller).invoice({
      studentId: await api.rows.student(schoolId),
      dueDate: daysFromToday(30, 'Asia/Kolkata'),
      amountMinor,
    });

  const list = (caller: Caller, query = '') => api.request(caller, 'GET', `/api/reconciliation${query}`);
  const match = (caller: Caller, itemId: string, invoiceId: string) =>
    api.request(caller, 'POST', `/api/reconciliation/${itemId}/match`, { body: { invoiceId } });
  const dismiss = (caller: Caller, itemId: string, body: unknown) =>
    api.request(caller, 'POST', `/api/reconciliation/${itemId}/dismiss`, { body });

  // Created oldest first, a minute apart, so "newest first" has one right answer.
  const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);
  const a1 = await storeReconciliationItem(api.db, {
    schoolId: schoolA,
    amountMinor: 4_000,
    createdAt: minutesAgo(5),
  });
  const a2 = await storeReconciliationItem(api.db, {
    schoolId: schoolA,
    amountMinor: 2_500,
    reason: 'currency_mismatch',
    createdAt: minutesAgo(4),
  });
  const b1 = await storeReconciliationItem(api.db, {
    schoolId: schoolB,
    amountMinor: 7_000,
    createdAt: minutesAgo(3),
  });
  const orphan = await storeReconciliationItem(api.db, {
    schoolId: null,
    amountMinor: 9_900,
    reason: 'no_reference',
    createdAt: minutesAgo(2),
  });

  it("shows staff their school's items, newest first and paginated, and only platform admins the unattributed ones", async () => {
    const mine = await list(accountantA, '?status=open');
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((item: { id: string }) => item.id)).toEqual([a2.id, a1.id]);
    expect(mine.body.pagination).toEqual({ limit: 50, offset: 0, total: 2 });
    expect(mine.body.data[1]).toEqual({
      id: a1.id,
      schoolId: schoolA,
      provider: 'razorpay',
      providerPaymentId: a1.providerPaymentId,
      eventId: a1.eventId,
      amountMinor: 4_000,
      currency: 'INR',
      reason: 'unknown_invoice',
      detail: 'The notes name an invoice Bursar does not have',
      status: 'open',
      matchedInvoiceId: null,
      paymentId: null,
      dismissReason: null,
      resolvedBy: null,
      resolvedAt: null,
      createdAt: expect.any(String),
    });
    const page = await list(accountantA, '?limit=1&offset=1');
    expect(page.body.data.map((item: { id: string }) => item.id)).toEqual([a1.id]);
    expect(page.body.pagination.total).toBe(2);

    // Staff cannot widen their scope by naming a school.
    const widened = await list(accountantA, `?schoolId=${schoolB}`);
    expect(widened.body.data.map((item: { id: string }) => item.id)).toEqual([a2.id, a1.id]);

    const everything = await list(api.admin, '?status=open');
    const ids = everything.body.data.map((item: { id: string }) => item.id);
    expect(ids.slice(0, 4)).toEqual([orphan.id, b1.id, a2.id, a1.id]);
    expect(
      (await list(api.admin, `?schoolId=${schoolB}`)).body.data.map((item: { id: string }) => item.id),
    ).toEqual([b1.id]);
    expect((await list(accountantB)).body.data.map((item: { id: string }) => item.id)).toEqual([b1.id]);
  });

  it('is for finance roles only: teachers and guardians 403, anonymous 401', async () => {
    for (const caller of [teacherA, guardianA]) {
      for (const res of [
        await list(caller),
        await match(caller, a1.id, a1.id),
        await dismiss(caller, a1.id, { reason: 'Not ours' }),
      ]) {
        expect(res.status).toBe(403);
        expect(res.headers.get('content-type')).toMatch(PROBLEM);
        expect(res.body.code).toBe('forbidden');
      }
    }
    expect((await api.request(null, 'GET', '/api/reconciliation')).status).toBe(401);
    expect((await list(adminA)).status).toBe(200);
  });

  it("matches an item to an invoice once: the payment lands in the ledger, the item closes, it is audited; another school's item is 404", async () => {
    const invoice = await invoiceIn(schoolA, accountantA, 10_000);
    // School B cannot see A's item, and A cannot use B's invoice.
    expect((await match(accountantB, a1.id, invoice.id)).status).toBe(404);
    const invoiceB = await invoiceIn(schoolB, accountantB);
    const wrongSchool = await match(accountantA, a1.id, invoiceB.id);
    expect(wrongSchool.status).toBe(404);
    expect(wrongSchool.body.code).toBe('not_found');

    const res = await match(accountantA, a1.id, invoice.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: a1.id,
      status: 'matched',
      matchedInvoiceId: invoice.id,
      resolvedBy: accountantA.userId,
      paymentId: expect.any(String),
    });
    const after = await api.request(accountantA, 'GET', `/api/invoices/${invoice.id}`);
    expect(after.body).toMatchObject({ paidMinor: 4_000, balanceMinor: 6_000 });

    const payment = await api.request(accountantA, 'GET', `/api/payments/${res.body.paymentId}`);
    expect(payment.status).toBe(200);
    expect(payment.body).toMatchObject({
      invoiceId: invoice.id,
      amountMinor: 4_000,
      method: 'online',
      provider: 'razorpay',
      providerPaymentId: a1.providerPaymentId,
    });
    expect(payment.body.events).toEqual([
      {
        provider: 'razorpay',
        eventId: a1.eventId,
        type: 'payment.captured',
        status: 'applied',
        receivedAt: expect.any(String),
        processedAt: expect.any(String),
      },
    ]);

    // Twice is a conflict, and the ledger holds one payment.
    const again = await match(accountantA, a1.id, invoice.id);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toMatch(PROBLEM);
    expect(
      (await api.request(accountantA, 'GET', `/api/invoices/${invoice.id}/payments`)).body.data,
    ).toHaveLength(1);

    const audit = await api.request(
      accountantA,
      'GET',
      `/api/audit?entityType=reconciliation_item&entityId=${a1.id}`,
    );
    expect(audit.body.data).toHaveLength(1);
    expect(audit.body.data[0]).toMatchObject({
      action: 'reconciliation.match',
      actorId: accountantA.userId,
      schoolId: schoolA,
      before: { status: 'open' },
      after: { status: 'matched', paymentId: res.body.paymentId },
    });
    const paymentAudit = await api.request(
      accountantA,
      'GET',
      `/api/audit?entityType=payment&entityId=${res.body.paymentId}`,
    );
    expect(paymentAudit.body.data).toMatchObject([{ action: 'payment.create', actorId: accountantA.userId }]);
    expect(
      (await list(accountantA, '?status=matched')).body.data.map((item: { id: string }) => item.id),
    ).toEqual([a1.id]);
  });

  it('refuses an invoice in another currency with 422, and an unknown item or invoice with 404', async () => {
    const usdItem = await storeReconciliationItem(api.db, {
      schoolId: schoolUsd,
      amountMinor: 1_000,
      currency: 'USD',
    });
    const usdAccountant = await api.callerFor('accountant', schoolUsd);
    const usdInvoice = await invoiceIn(schoolUsd, usdAccountant);
    const inrItem = await storeReconciliationItem(api.db, {
      schoolId: schoolUsd,
      amountMinor: 1_000,
      currency: 'INR',
    });
    const res = await match(usdAccountant, inrItem.id, usdInvoice.id);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('validation_failed');
    expect((await match(usdAccountant, '7d1f3c2a-0000-4000-8000-000000000000', usdInvoice.id)).status).toBe(
      404,
    );
    expect((await match(usdAccountant, usdItem.id, '7d1f3c2a-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await match(usdAccountant, usdItem.id, usdInvoice.id)).status).toBe(200);
  });

  it("lets only a platform admin place money no school was found for, on any school's invoice", async () => {
    const invoiceB = await invoiceIn(schoolB, accountantB, 20_000);
    expect((await match(accountantB, orphan.id, invoiceB.id)).status).toBe(404);
    expect((await dismiss(accountantB, orphan.id, { reason: 'Not ours' })).status).toBe(404);
    const res = await match(api.admin, orphan.id, invoiceB.id);
    expect(res.status).toBe(200);
    // Placed, it belongs to the invoice's school: its staff see it now.
    expect(res.body).toMatchObject({ status: 'matched', schoolId: schoolB, matchedInvoiceId: invoiceB.id });
    expect((await api.request(accountantB, 'GET', `/api/invoices/${invoiceB.id}`)).body.paidMinor).toBe(
      9_900,
    );
    expect(
      (await list(accountantB, '?status=matched')).body.data.map((item: { id: string }) => item.id),
    ).toContain(orphan.id);
  });

  it('dismisses only with a reason, keeps and audits it, and leaves the ledger alone', async () => {
    for (const body of [
      {},
      { reason: '' },
      { reason: '  ' },
      { reason: 'no' },
      { reason: 'x'.repeat(501) },
    ]) {
      const res = await dismiss(adminA, a2.id, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.code).toBe('validation_failed');
    }
    expect((await dismiss(accountantB, a2.id, { reason: 'Not ours' })).status).toBe(404);
    const res = await dismiss(adminA, a2.id, { reason: 'Refunded by the bank directly' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'dismissed',
      dismissReason: 'Refunded by the bank directly',
      resolvedBy: adminA.userId,
      paymentId: null,
      matchedInvoiceId: null,
    });
    expect((await dismiss(adminA, a2.id, { reason: 'Again' })).status).toBe(409);
    const payments = await api.db
      .selectFrom('payments')
      .select('id')
      .where('providerPaymentId', '=', a2.providerPaymentId)
      .execute();
    expect(payments).toEqual([]);
    const audit = await api.request(
      adminA,
      'GET',
      `/api/audit?entityType=reconciliation_item&entityId=${a2.id}`,
    );
    expect(audit.body.data).toMatchObject([
      {
        action: 'reconciliation.dismiss',
        actorId: adminA.userId,
        after: { dismissReason: 'Refunded by the bank directly' },
      },
    ]);
    expect(
      (await list(adminA, '?status=open')).body.data.map((item: { id: string }) => item.id),
    ).not.toContain(a2.id);
  });
});

describe('GET /api/payments/:id for online payments', async () => {
  let queries = 0;
  const api = await createTestApi({ onQuery: () => void queries++ });
  const schoolId = await api.createSchool();
  const accountant = await api.callerFor('accountant', schoolId);
  const studentId = await api.rows.student(schoolId);
  const build = api.build(accountant);

  /** An online payment as the worker leaves it: matched from reconciliation, then a second event of it recorded as a duplicate. */
  async function onlinePayment(amountMinor: number) {
    const invoice = await build.invoice({
      studentId,
      dueDate: daysFromToday(30, 'Asia/Kolkata'),
      amountMinor,
    });
    const item = await storeReconciliationItem(api.db, {
      schoolId,
      amountMinor,
      createdAt: new Date(Date.now() - 60_000),
    });
    const matched = await api.request(accountant, 'POST', `/api/reconciliation/${item.id}/match`, {
      body: { invoiceId: invoice.id },
    });
    expect(matched.status).toBe(200);
    const duplicate = await storeProviderEvent(api.db, {
      paymentId: item.providerPaymentId,
      amountMinor,
      currency: 'INR',
      status: 'duplicate',
      schoolId,
      bursarPaymentId: matched.body.paymentId,
    });
    return { invoice, item, duplicate, paymentId: matched.body.paymentId as string };
  }

  it('shows the provider, its payment id and every event about the payment, oldest first', async () => {
    const { item, duplicate, paymentId } = await onlinePayment(3_000);
    const res = await api.request(accountant, 'GET', `/api/payments/${paymentId}`);
    expect(res.status).toBe(200);
    expect(res.body.provider).toBe('razorpay');
    expect(res.body.providerPaymentId).toBe(item.providerPaymentId);
    expect(
      res.body.events.map((event: { eventId: string; status: string }) => [event.eventId, event.status]),
    ).toEqual([
      [item.eventId, 'applied'],
      [duplicate.eventId, 'duplicate'],
    ]);
    // The event a refund of it would be, stored before it was linked to the payment, belongs to it too.
    const waiting = await storeProviderEvent(api.db, {
      paymentId: item.providerPaymentId,
      amountMinor: 3_000,
      currency: 'INR',
      status: 'received',
    });
    const later = await api.request(accountant, 'GET', `/api/payments/${paymentId}`);
    expect(later.body.events.map((event: { eventId: string }) => event.eventId)).toEqual([
      item.eventId,
      duplicate.eventId,
      waiting.eventId,
    ]);
    // Another school does not see it.
    const stranger = await api.callerFor('accountant', await api.createSchool());
    expect((await api.request(stranger, 'GET', `/api/payments/${paymentId}`)).status).toBe(404);
  });

  it('shows a manual payment with provider null and no events', async () => {
    const invoice = await build.invoice({ studentId, amountMinor: 5_000 });
    const receipt = await build.payment(invoice.id, 2_000, { method: 'cash' });
    expect(receipt.payment).toMatchObject({ provider: null, providerPaymentId: null, events: [] });
    const res = await api.request(accountant, 'GET', `/api/payments/${receipt.payment.id}`);
    expect(res.body).toMatchObject({ method: 'cash', provider: null, providerPaymentId: null, events: [] });
  });

  it("lists an invoice's payments with their events in a fixed number of queries, however many there are", async () => {
    const invoice = await build.invoice({
      studentId,
      dueDate: daysFromToday(30, 'Asia/Kolkata'),
      amountMinor: 100_000,
    });
    const count = async () => {
      queries = 0;
      const res = await api.request(accountant, 'GET', `/api/invoices/${invoice.id}/payments`);
      expect(res.status).toBe(200);
      return { queries, body: res.body };
    };
    const addOnline = async () => {
      const item = await storeReconciliationItem(api.db, { schoolId, amountMinor: 1_000 });
      expect(
        (
          await api.request(accountant, 'POST', `/api/reconciliation/${item.id}/match`, {
            body: { invoiceId: invoice.id },
          })
        ).status,
      ).toBe(200);
    };
    await addOnline();
    await build.payment(invoice.id, 1_000, { method: 'cash' });
    const small = await count();
    for (let i = 0; i < 6; i++) await addOnline();
    const large = await count();
    expect(small.body.data).toHaveLength(2);
    expect(large.body.data).toHaveLength(8);
    expect(large.queries).toBe(small.queries);
    for (const payment of large.body.data) {
      expect(payment.events).toHaveLength(payment.provider ? 1 : 0);
    }
  });
});
