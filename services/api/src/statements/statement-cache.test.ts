/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are whatever the route under test sends */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { StudentStatement } from '@bursar/contracts';
import { daysFromToday } from '@bursar/test-support';
import { createTestApi } from '../testing/harness.js';

/**
 * The api keeps each student statement it computed while the school's stats
 * version stays where it was. Every change a statement shows must move that
 * version, so the next read is the ledger's answer, never the kept one; and a
 * caller who may not see the student gets 404 whatever is kept. Each read is
 * compared with one computed from the rows by SQL.
 */
describe('student statements kept between reads', async () => {
  const api = await createTestApi();
  // Days are the school's: from 18:30 UTC it is already tomorrow in Kolkata, and so are its invoices.
  const ZONE = 'Asia/Kolkata';
  const day = (days: number) => daysFromToday(days, ZONE);
  const schoolId = await api.createSchool({ currency: 'INR', timezone: ZONE });
  const otherSchoolId = await api.createSchool({ name: 'Elsewhere' });
  const studentId = await api.rows.student(schoolId, {
    firstName: 'Asha',
    lastName: 'Rao',
    admissionNo: 'SC-1',
  });
  const staff = await api.callerFor('accountant', schoolId);
  const admin = await api.callerFor('school_admin', schoolId);
  const stranger = await api.callerFor('school_admin', otherSchoolId);
  const build = api.build(staff);
  const path = `/api/students/${studentId}/statement`;

  async function statement(): Promise<any> {
    const response = await api.request(staff, 'GET', path);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    // Today's statement is JSON that PostgreSQL built: it must be the contract, field for field.
    const parsed = StudentStatement.safeParse(response.body);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    return response.body;
  }

  /** What the rows say, summed by SQL: the statement's totals and how many of each thing it lists. */
  async function fromRows() {
    const { rows } = await sql<Record<string, unknown>>`
      select (select coalesce(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null), 0)
                from invoices where student_id = ${studentId}) as balance,
             (select coalesce(sum(amount_minor), 0) from payments where student_id = ${studentId}) as paid,
             (select coalesce(sum(refunded_minor), 0) from payments where student_id = ${studentId}) as refunded,
             (select count(*) from invoices where student_id = ${studentId}) as invoices,
             (select count(*) from payments where student_id = ${studentId}) as payments`.execute(api.db);
    return Object.fromEntries(Object.entries(rows[0]!).map(([name, value]) => [name, String(value)]));
  }

  async function expectExact() {
    const body = await statement();
    const sums = await fromRows();
    expect(String(body.totals.balanceMinor)).toBe(sums.balance);
    expect(String(body.totals.paidMinor)).toBe(sums.paid);
    expect(String(body.totals.refundedMinor)).toBe(sums.refunded);
    expect(String(body.invoices.length)).toBe(sums.invoices);
    expect(String(body.invoices.flatMap((invoice: any) => invoice.payments).length)).toBe(sums.payments);
    return body;
  }

  it('shows every change at the next read, and nothing to another school', async () => {
    const invoice = (await build.invoice({
      studentId,
      amountMinor: 100_000,
      dueDate: day(20),
    })) as any;
    const first = await expectExact();
    expect(first.invoices[0]).toMatchObject({ status: 'pending', balanceMinor: 100_000 });
    // A second read is the same answer (kept), and another school's admin still gets 404.
    expect(await statement()).toEqual(first);
    expect((await api.request(stranger, 'GET', path)).status).toBe(404);

    const { payment } = (await build.payment(invoice.id, 40_000)) as any;
    const paid = await expectExact();
    expect(paid.invoices[0]).toMatchObject({ status: 'partial', paidMinor: 40_000, balanceMinor: 60_000 });

    await build.refund(payment.id, 10_000);
    const refunded = await expectExact();
    expect(refunded.invoices[0].payments[0]).toMatchObject({ refundedMinor: 10_000 });
    // Instants written as the rest of the api writes them (toISOString), money as numbers.
    const alone = await api.request(staff, 'GET', `/api/payments/${payment.id}`);
    expect(alone.status).toBe(200);
    const listed = refunded.invoices[0].payments[0];
    expect(listed.paidAt).toBe(alone.body.paidAt);
    expect(listed.refunds[0].createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(listed).toMatchObject({
      id: payment.id,
      invoiceId: invoice.id,
      amountMinor: 40_000,
      method: alone.body.method,
      reference: alone.body.reference,
    });
    expect(listed.refunds[0]).toMatchObject({
      paymentId: payment.id,
      amountMinor: 10_000,
      fromCreditMinor: 0,
    });

    const moved = await api.request(staff, 'PATCH', `/api/invoices/${invoice.id}`, {
      body: { dueDate: day(-5) },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const overdue = await expectExact();
    expect(overdue.invoices[0]).toMatchObject({ dueDate: day(-5), status: 'overdue' });

    const renamed = await api.request(admin, 'PATCH', `/api/students/${studentId}`, {
      body: { firstName: 'Aashna' },
    });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect((await statement()).student.firstName).toBe('Aashna');

    const voided = await api.request(staff, 'POST', `/api/invoices/${invoice.id}/void`, {
      body: { reason: 'Issued in error' },
    });
    expect(voided.status, JSON.stringify(voided.body)).toBe(200);
    const after = await expectExact();
    expect(after.invoices[0].status).toBe('void');
    expect((await api.request(stranger, 'GET', path)).status).toBe(404);
  });

  it('shows a payment in the school statement at the next read', async () => {
    const schoolPath = `/api/schools/${schoolId}/statement`;
    const read = async () => {
      const response = await api.request(staff, 'GET', schoolPath);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      return response.body;
    };
    // A student of their own: the first test left credit on Asha's account, which a new invoice would use.
    const bala = await api.rows.student(schoolId, {
      firstName: 'Bala',
      lastName: 'Rao',
      admissionNo: 'SC-2',
    });
    const invoice = (await build.invoice({
      studentId: bala,
      amountMinor: 25_000,
      dueDate: day(10),
    })) as any;
    const before = await read();
    expect(await read()).toEqual(before);
    expect((await api.request(stranger, 'GET', schoolPath)).status).toBe(404);
    await build.payment(invoice.id, 5_000);
    const after = await read();
    expect(after.totals.paidMinor).toBe(before.totals.paidMinor + 5_000);
    expect(after.totals.balanceMinor).toBe(before.totals.balanceMinor - 5_000);
    const paidOf = (body: any) => body.students.data.find((row: any) => row.id === bala).paidMinor;
    expect(paidOf(after)).toBe(paidOf(before) + 5_000);
  });

  it('keeps the filtered and the past-day answers apart from today’s', async () => {
    const today = await statement();
    const filtered = await api.request(staff, 'GET', `${path}?from=${day(1)}`);
    expect(filtered.status).toBe(200);
    expect(filtered.body.invoices).toEqual([]);
    const yesterday = await api.request(staff, 'GET', `${path}?asOf=${day(-1)}`);
    expect(yesterday.status).toBe(200);
    expect(yesterday.body.asOf).toBe(day(-1));
    expect(await statement()).toEqual(today);
  });
});
