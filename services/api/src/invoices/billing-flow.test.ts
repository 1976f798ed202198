import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { daysFromToday, localDate } from '@bursar/test-support';
import { DEMO_SCHOOL, DEMO_STUDENTS } from '../seed/demo-data.js';
import { createTestApi, type Caller } from '../testing/harness.js';

const student = DEMO_STUDENTS[0]!.id;
const sibling = DEMO_STUDENTS[6]!.id; // same family as student 0
/** A date relative to today in the demo school's zone: these tests hold on any day they run. */
const day = (offset: number) => daysFromToday(offset, DEMO_SCHOOL.timezone);

describe('invoices, payments, credit and refunds', async () => {
  const api = await createTestApi();
  const accountant: Caller = await api.callerFor('accountant', api.demoSchoolId);

  const build = api.build(accountant);
  const pay = (invoiceId: string, amountMinor: number, key = randomUUID()) =>
    build.paymentRequest(invoiceId, amountMinor, { reference: 'UPI-1', idempotencyKey: key });
  const invoice = (studentId: string, amountMinor: number, dueDate = day(18)) =>
    build.invoice({ studentId, amountMinor, dueDate, issueDate: day(-2) });

  it('issues an invoice with a gap-free per-school number and derived totals', async () => {
    const first = await invoice(student, 100_000);
    const second = await invoice(student, 50_000);
    // Numbered in the series of the issue date's year.
    expect(first.number).toMatch(new RegExp(`^INV-${day(-2).slice(0, 4)}-\\d{6}$`));
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
    const a = await invoice(studentId, 10_000, day(9));
    const b = await invoice(studentId, 8_000, day(40));
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
      `/api/schools/${api.demoSchoolId}/statement?asOf=${day(99)}`,
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
  const build = api.build(accountant);
  const studentId = DEMO_STUDENTS[4]!.id;
  const issue = () =>
    build.invoice({
      studentId,
      amountMinor: 4_000,
      description: 'Bus',
      dueDate: day(18),
      issueDate: day(-2),
    });

  it('applies a refund retried with the same Idempotency-Key once', async () => {
    const invoice = await issue();
    const paid = await build.paymentRequest(invoice.id, 4_000, { method: 'cash' });
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

  it('replays a refund sent again with the same Idempotency-Key and body, and refuses the key with any other', async () => {
    const [invoice, other] = [await issue(), await issue()];
    const paid = await build.payment(invoice.id, 4_000, { method: 'cash' });
    const otherPaid = await build.payment(other.id, 4_000, { method: 'cash' });
    const idempotencyKey = randomUUID();
    const reason = 'Bus not used in December';
    const first = await build.refundRequest(paid.payment.id, 1_000, { idempotencyKey, reason });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const again = await build.refundRequest(paid.payment.id, 1_000, { idempotencyKey, reason });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    for (const [paymentId, amountMinor, why] of [
      [paid.payment.id, 2_000, reason], // another amount
      [paid.payment.id, 1_000, 'Another reason'], // another reason
      [otherPaid.payment.id, 1_000, reason], // the same body for another payment
    ] as const) {
      const reused = await build.refundRequest(paymentId, amountMinor, { idempotencyKey, reason: why });
      expect(reused.status, `${paymentId} ${amountMinor} ${why}: ${JSON.stringify(reused.body)}`).toBe(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
    }
    const payment = await api.request(accountant, 'GET', `/api/payments/${paid.payment.id}`);
    expect(payment.body).toMatchObject({ refundedMinor: 1_000 });
    expect(payment.body.refunds).toHaveLength(1);
    const untouched = await api.request(accountant, 'GET', `/api/payments/${otherPaid.payment.id}`);
    expect(untouched.body).toMatchObject({ refundedMinor: 0, refunds: [] });
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
        body: { studentId, dueDate: day(39), issueDate: day(-2), lines: [big] },
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
    (await api.request(accountant, 'GET', `/api/schools/${api.demoSchoolId}/statement?asOf=${day(54)}`)).body;

  it('never serves a summary older than the last money or student change', async () => {
    const before = await read();
    const build = api.build(accountant);
    // Due 45 days before the statement's asOf: in the 31-60 bucket.
    const invoice = await build.invoice({
      studentId: DEMO_STUDENTS[7]!.id,
      amountMinor: 2_500,
      description: 'Lab fee',
      dueDate: day(9),
      issueDate: day(-2),
    });
    const afterInvoice = await read();
    expect(afterInvoice.totals.invoicedMinor).toBe(before.totals.invoicedMinor + 2_500);
    expect(afterInvoice.aging.days31To60).toBe(before.aging.days31To60 + 2_500);
    await build.payment(invoice.id, 1_000, { method: 'cash' });
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
    instalments: [{ label: 'Year', dueDate: day(-180), sharePercent: 100 }],
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

/**
 * "Today" is the school's, not UTC's. Kiritimati (UTC+14) is a day ahead of
 * UTC from 10:00 UTC on, Pago Pago (UTC−11) a day behind until 11:00 UTC, so
 * at every hour one of the two schools lives on another date than UTC: an
 * invoice due yesterday or today (UTC) has a status there that a UTC "today"
 * gets wrong, whenever this runs.
 */
describe("an invoice's status on the school's own date", async () => {
  const api = await createTestApi();
  const build = api.build(api.admin);
  const ZONES = ['Pacific/Kiritimati', 'Pacific/Pago_Pago'];
  const schools = await Promise.all(
    ZONES.map(async (timezone) => {
      const schoolId = await api.rows.school({ timezone, currency: 'USD', locale: 'en-US' });
      return { timezone, schoolId, studentId: await api.rows.student(schoolId) };
    }),
  );

  it('is overdue only once the due date has passed where the school is', async () => {
    const utcToday = daysFromToday(0);
    const dueDates = [daysFromToday(-1), utcToday, daysFromToday(1)];
    const invoices = await Promise.all(
      schools.flatMap((school) =>
        dueDates.map(async (dueDate) => ({
          school,
          dueDate,
          id: (
            await build.invoice({
              studentId: school.studentId,
              schoolId: school.schoolId,
              dueDate,
              issueDate: daysFromToday(-3),
            })
          ).id as string,
        })),
      ),
    );
    // Read and judge at the same moment; should a school's midnight fall in between, read again.
    for (;;) {
      const before = schools.map((school) => localDate(school.timezone));
      const read = await Promise.all(
        invoices.map(async (invoice) => {
          const body = (await api.request(api.admin, 'GET', `/api/invoices/${invoice.id}`)).body;
          const statement = (
            await api.request(api.admin, 'GET', `/api/students/${invoice.school.studentId}/statement`)
          ).body;
          return { ...invoice, status: body.status as string, asOf: statement.asOf as string };
        }),
      );
      const after = schools.map((school) => localDate(school.timezone));
      if (before.join() !== after.join()) continue;
      const expected = read.map(({ school, dueDate }) => {
        const today = localDate(school.timezone);
        return {
          zone: school.timezone,
          dueDate,
          status: dueDate < today ? 'overdue' : 'pending',
          asOf: today,
        };
      });
      expect(
        read.map(({ school, dueDate, status, asOf }) => ({ zone: school.timezone, dueDate, status, asOf })),
        `UTC date ${utcToday}`,
      ).toEqual(expected);
      // At least one school is off the UTC date now, so the test above could tell the two apart.
      expect(expected.some((e) => e.asOf !== utcToday)).toBe(true);
      break;
    }
  });
});
