import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEMO_STUDENTS } from '../seed/demo-data.js';
import { createTestApi, type Caller } from '../testing/harness.js';

const student = DEMO_STUDENTS[0]!.id;
const sibling = DEMO_STUDENTS[6]!.id; // same family as student 0

describe('invoices, payments, credit and refunds', async () => {
  const api = await createTestApi();
  const accountant: Caller = await api.callerFor('accountant', api.demoSchoolId);

  const pay = (invoiceId: string, amountMinor: number, key = randomUUID()) =>
    api.request(accountant, 'POST', `/api/invoices/${invoiceId}/payments`, {
      body: { amountMinor, method: 'upi', reference: 'UPI-1' },
      headers: { 'idempotency-key': key },
    });

  const invoice = async (studentId: string, amountMinor: number, dueDate = '2026-12-10') => {
    const response = await api.request(accountant, 'POST', '/api/invoices', {
      body: {
        studentId,
        dueDate,
        issueDate: '2026-11-20',
        lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: amountMinor }],
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  };

  it('issues an invoice with a gap-free per-school number and derived totals', async () => {
    const first = await invoice(student, 100_000);
    const second = await invoice(student, 50_000);
    expect(first.number).toMatch(/^INV-2026-\d{6}$/);
    expect(Number(second.number.slice(-6))).toBe(Number(first.number.slice(-6)) + 1);
    expect(first).toMatchObject({
      totalMinor: 100_000,
      paidMinor: 0,
      balanceMinor: 100_000,
      status: 'pending',
      currency: 'INR',
    });
  });

  it('takes partial then full payment: partial, then paid', async () => {
    const inv = await invoice(sibling, 100_000);
    const first = await pay(inv.id, 30_000);
    expect(first.status).toBe(201);
    expect(first.body.invoice).toMatchObject({ paidMinor: 30_000, balanceMinor: 70_000, status: 'partial' });
    const second = await pay(inv.id, 70_000);
    expect(second.body.invoice).toMatchObject({ paidMinor: 100_000, balanceMinor: 0, status: 'paid' });
  });

  it('replays a payment with the same Idempotency-Key and refuses the key with another body', async () => {
    const inv = await invoice(sibling, 10_000);
    const key = randomUUID();
    const once = await pay(inv.id, 1_000, key);
    const again = await pay(inv.id, 1_000, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(once.body);
    const different = await pay(inv.id, 2_000, key);
    expect(different.status).toBe(422);
    expect(different.body.code).toBe('idempotency_key_reused');
    const payments = await api.request(accountant, 'GET', `/api/invoices/${inv.id}/payments`);
    expect(payments.body.data).toHaveLength(1);
  });

  it('turns an overpayment into credit that moves to the next open invoice, and refunds it', async () => {
    const studentId = DEMO_STUDENTS[1]!.id;
    const a = await invoice(studentId, 10_000, '2026-12-01');
    const b = await invoice(studentId, 8_000, '2027-01-01');
    const over = await pay(a.id, 15_000);
    expect(over.body).toMatchObject({ appliedMinor: 10_000, creditedMinor: 5_000 });
    const afterB = await api.request(accountant, 'GET', `/api/invoices/${b.id}`);
    expect(afterB.body).toMatchObject({
      paidMinor: 5_000,
      balanceMinor: 3_000,
      status: 'partial',
      creditMinor: 0,
    });

    const refund = await api.request(accountant, 'POST', `/api/payments/${over.body.payment.id}/refunds`, {
      body: { amountMinor: 2_000, reason: 'Family asked for part back' },
    });
    expect(refund.status).toBe(201);
    const tooMuch = await api.request(accountant, 'POST', `/api/payments/${over.body.payment.id}/refunds`, {
      body: { amountMinor: 13_001, reason: 'Too much' },
    });
    expect(tooMuch.status).toBe(409);

    const statement = await api.request(accountant, 'GET', `/api/students/${studentId}/statement`);
    expect(statement.status).toBe(200);
    const { totals } = statement.body;
    expect(totals).toMatchObject({ invoicedMinor: 18_000, paidMinor: 15_000, refundedMinor: 2_000 });
    // Owed minus credit equals invoiced minus net paid.
    expect(totals.balanceMinor - totals.creditMinor).toBe(18_000 - 13_000);

    const school = await api.request(
      accountant,
      'GET',
      `/api/schools/${api.demoSchoolId}/statement?asOf=2027-03-01`,
    );
    expect(school.status, JSON.stringify(school.body)).toBe(200);
    expect(school.body.studentsCount).toBe(12);
  });

  it('voids instead of deleting an invoice with payments, releasing the money as credit', async () => {
    const studentId = DEMO_STUDENTS[2]!.id;
    const a = await invoice(studentId, 5_000);
    await pay(a.id, 2_000);
    const del = await api.request(accountant, 'DELETE', `/api/invoices/${a.id}`);
    expect(del.status).toBe(409);
    expect(del.body.detail).toContain('void');
    const voided = await api.request(accountant, 'POST', `/api/invoices/${a.id}/void`, {
      body: { reason: 'Issued twice' },
    });
    expect(voided.body).toMatchObject({ status: 'void', balanceMinor: 0, creditMinor: 2_000 });
    const next = await invoice(studentId, 3_000);
    expect(next).toMatchObject({ paidMinor: 2_000, balanceMinor: 1_000, creditMinor: 0 });
  });

  it('keeps paid + credit equal to the sum accepted under 50 concurrent payments', async () => {
    const studentId = DEMO_STUDENTS[3]!.id;
    const inv = await invoice(studentId, 100_000);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pay(inv.id, 1_000 + i * 100)));
    expect(results.every((r) => r.status === 201)).toBe(true);
    const accepted = results.reduce((sum, r) => sum + r.body.payment.amountMinor, 0);
    const after = await api.request(accountant, 'GET', `/api/invoices/${inv.id}`);
    expect(after.body.paidMinor + after.body.creditMinor).toBe(accepted);
  });
});

describe('refund retries and invoice deletion', async () => {
  const api = await createTestApi();
  const accountant = await api.callerFor('accountant', api.demoSchoolId);
  const studentId = DEMO_STUDENTS[4]!.id;
  const issue = async () =>
    (
      await api.request(accountant, 'POST', '/api/invoices', {
        body: {
          studentId,
          dueDate: '2026-12-10',
          issueDate: '2026-11-20',
          lines: [{ description: 'Bus', quantity: 1, unitAmountMinor: 4_000 }],
        },
      })
    ).body;

  it('applies a refund retried with the same Idempotency-Key once', async () => {
    const invoice = await issue();
    const paid = await api.request(accountant, 'POST', `/api/invoices/${invoice.id}/payments`, {
      body: { amountMinor: 4_000, method: 'cash' },
      headers: { 'idempotency-key': randomUUID() },
    });
    const key = randomUUID();
    const refund = () =>
      api.request(accountant, 'POST', `/api/payments/${paid.body.payment.id}/refunds`, {
        body: { amountMinor: 1_000, reason: 'Bus not used in December' },
        headers: { 'idempotency-key': key },
      });
    const [first, second] = await Promise.all([refund(), refund()]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body).toEqual(first.body);
    const payment = await api.request(accountant, 'GET', `/api/payments/${paid.body.payment.id}`);
    expect(payment.body).toMatchObject({ refundedMinor: 1_000 });
    expect(payment.body.refunds).toHaveLength(1);
  });

  it('deletes only the newest unpaid invoice and hands its number back, keeping numbers gap-free', async () => {
    const older = await issue();
    const newest = await issue();
    const refused = await api.request(accountant, 'DELETE', `/api/invoices/${older.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('gap');
    expect((await api.request(accountant, 'DELETE', `/api/invoices/${newest.id}`)).status).toBe(204);
    const next = await issue();
    expect(next.number).toBe(newest.number);
  });
});

describe('amounts at the limits', async () => {
  const api = await createTestApi();
  const accountant = await api.callerFor('accountant', api.demoSchoolId);

  it("refuses invoices that would take the school's totals past 2^53 − 1, so statements stay exact", async () => {
    const studentId = DEMO_STUDENTS[5]!.id;
    const big = { description: 'Endowment', quantity: 1, unitAmountMinor: 10_000_000_000_000 };
    const statuses: number[] = [];
    for (let i = 0; i < 901; i += 1) {
      const response = await api.request(accountant, 'POST', '/api/invoices', {
        body: { studentId, dueDate: '2026-12-31', issueDate: '2026-11-20', lines: [big] },
      });
      statuses.push(response.status);
      if (response.status !== 201) break;
    }
    expect(statuses.at(-1)).toBe(422);
    expect(statuses.filter((s) => s === 201)).toHaveLength(900);
    const statement = await api.request(accountant, 'GET', `/api/students/${studentId}/statement`);
    expect(statement.status).toBe(200);
    expect(statement.body.totals.invoicedMinor).toBe(9_000_000_000_000_000);
    expect((await api.request(accountant, 'GET', `/api/schools/${api.demoSchoolId}/statement`)).status).toBe(
      200,
    );
  }, 120_000);
});

describe('school statement summary cache', async () => {
  const api = await createTestApi();
  const accountant = await api.callerFor('accountant', api.demoSchoolId);
  const read = async () =>
    (await api.request(accountant, 'GET', `/api/schools/${api.demoSchoolId}/statement?asOf=2027-01-15`)).body;

  it('never serves a summary older than the last money or student change', async () => {
    const before = await read();
    const invoice = await api.request(accountant, 'POST', '/api/invoices', {
      body: {
        studentId: DEMO_STUDENTS[7]!.id,
        dueDate: '2026-12-01',
        issueDate: '2026-11-20',
        lines: [{ description: 'Lab fee', quantity: 1, unitAmountMinor: 2_500 }],
      },
    });
    const afterInvoice = await read();
    expect(afterInvoice.totals.invoicedMinor).toBe(before.totals.invoicedMinor + 2_500);
    expect(afterInvoice.aging.days31To60).toBe(before.aging.days31To60 + 2_500);
    await api.request(accountant, 'POST', `/api/invoices/${invoice.body.id}/payments`, {
      body: { amountMinor: 1_000, method: 'cash' },
      headers: { 'idempotency-key': randomUUID() },
    });
    const afterPayment = await read();
    expect(afterPayment.totals.paidMinor).toBe(afterInvoice.totals.paidMinor + 1_000);
    expect(afterPayment.aging.days31To60).toBe(afterInvoice.aging.days31To60 - 1_000);
    const left = await api.request(api.admin, 'PATCH', `/api/students/${DEMO_STUDENTS[8]!.id}`, {
      body: { status: 'left' },
    });
    expect(left.status).toBe(200);
    expect((await read()).studentsCount).toBe(afterPayment.studentsCount - 1);
  });
});

describe('fee plans and their school', async () => {
  const api = await createTestApi();
  const plan = (schoolId: string) => ({
    name: 'Annual',
    academicYear: '2026-27',
    heads: [{ name: 'Tuition', amountMinor: 100_000 }],
    instalments: [{ label: 'Year', dueDate: '2026-06-01', sharePercent: 100 }],
    schoolId,
  });

  it('refuses a plan for a school that does not exist, naming the field', async () => {
    const response = await api.request(api.admin, 'POST', '/api/fee-plans', { body: plan(randomUUID()) });
    expect(response.status).toBe(422);
    expect(response.body.errors[0].path).toBe('body.schoolId');
  });

  it("hides a deleted school's fee plans", async () => {
    const schoolId = await api.createSchool();
    const created = await api.request(api.admin, 'POST', '/api/fee-plans', { body: plan(schoolId) });
    expect(created.status).toBe(201);
    expect((await api.request(api.admin, 'DELETE', `/api/schools/${schoolId}`)).status).toBe(204);
    expect((await api.request(api.admin, 'GET', `/api/fee-plans/${created.body.id}`)).status).toBe(404);
    const list = await api.request(api.admin, 'GET', `/api/fee-plans?schoolId=${schoolId}`);
    expect(list.body.pagination.total).toBe(0);
  });
});
