/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are whatever the route under test sends */
import { sql } from 'kysely';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { addDays, daysFromToday } from '@bursar/test-support';
import { createTestApi, type Caller } from '../testing/harness.js';

/**
 * Statements as of a past day show the ledger as it stood at the end of that
 * day. The clock (JavaScript's `Date`, which the api and the ledger read) is
 * walked through a week in a school west of UTC, where a local evening is
 * already the next day in UTC. Each day money moves (payments, some
 * back-dated, refunds, voids, credit moving onto open invoices) and the day
 * ends with the statements taken as "today" (running totals) and kept. Days
 * later, after more money has moved, asking for `asOf` each of those days
 * must give back exactly what was kept: amounts, statuses and aging.
 *
 * Every day is relative to the day the test runs, so it holds on any day.
 */
const ZONE = 'America/Los_Angeles';

describe('statements as of a past day', async () => {
  const api = await createTestApi();
  const schoolId = await api.createSchool({ timezone: ZONE, currency: 'USD' });
  const [asha, bala, chetan] = await Promise.all(
    ['Asha', 'Bala', 'Chetan'].map((firstName, i) =>
      api.rows.student(schoolId, { firstName, lastName: 'Rao', admissionNo: `PIT-${i + 1}` }),
    ),
  );
  const students = { asha: asha!, bala: bala!, chetan: chetan! };
  // Forty days ago, so every faked instant below is in the past of the real clock too.
  const d0 = daysFromToday(-40, ZONE);
  const day = (n: number) => addDays(d0, n);

  vi.useFakeTimers({ toFake: ['Date'] });
  afterAll(() => {
    vi.useRealTimers();
  });

  /** The instant it is `time` on local `date` in the school's zone (PostgreSQL's zone rules, DST included). */
  async function at(date: string, time: string): Promise<Date> {
    const { rows } = await sql<{ instant: Date }>`
      select (${date}::date + ${time}::time) at time zone ${ZONE} as instant`.execute(api.db);
    return rows[0]!.instant;
  }

  let staff: Caller;
  /** Moves the clock, and logs in again there (access tokens last minutes, the story days). */
  async function clock(date: string, time: string) {
    vi.setSystemTime(await at(date, time));
    staff = await api.callerFor('school_admin', schoolId);
  }

  async function get(path: string) {
    const response = await api.request(staff, 'GET', path);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  }
  const build = () => api.build(staff);
  const invoice = async (studentId: string, amountMinor: number, dueDate: string, issueDate?: string) =>
    (await build().invoice({ studentId, amountMinor, dueDate, ...(issueDate ? { issueDate } : {}) })) as any;
  const pay = async (
    invoiceId: string,
    amountMinor: number,
    extra: { paidAt?: Date; method?: 'cheque' } = {},
  ) =>
    (
      (await build().payment(invoiceId, amountMinor, {
        ...(extra.paidAt ? { paidAt: extra.paidAt.toISOString() } : {}),
        ...(extra.method ? { method: extra.method, reference: 'CHQ-1' } : {}),
      })) as any
    ).payment;
  const refund = (paymentId: string, amountMinor: number) => build().refund(paymentId, amountMinor);
  const voidInvoice = async (invoiceId: string) => {
    const response = await api.request(staff, 'POST', `/api/invoices/${invoiceId}/void`, {
      body: { reason: 'Issued in error' },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  };

  /** Every statement this test keeps for a day, by a name, and the path that answers it today. */
  const views = () => ({
    asha: `/api/students/${students.asha}/statement`,
    ashaWindow: `/api/students/${students.asha}/statement?from=${day(-30)}&to=${day(1)}`,
    bala: `/api/students/${students.bala}/statement`,
    chetan: `/api/students/${students.chetan}/statement`,
    school: `/api/schools/${schoolId}/statement`,
    schoolByBalance: `/api/schools/${schoolId}/statement?sort=balance`,
    schoolPage: `/api/schools/${schoolId}/statement?sort=name&limit=2&offset=1`,
  });
  const withAsOf = (path: string, asOf: string) => `${path}${path.includes('?') ? '&' : '?'}asOf=${asOf}`;

  const kept = new Map<string, Record<string, any>>();
  async function keepDay(date: string) {
    const copies: Record<string, any> = {};
    for (const [name, path] of Object.entries(views())) copies[name] = await get(path);
    for (const copy of Object.values(copies)) expect(copy.asOf).toBe(date);
    kept.set(date, copies);
  }

  it('gives back, for every earlier day, the statements as they were taken at the end of it', async () => {
    // ── Day 0: three invoices for Asha (two issued back-dated, overdue), one for Bala ──
    await clock(day(0), '09:00');
    const a1 = await invoice(students.asha, 10_000, day(10));
    const a2 = await invoice(students.asha, 5_000, day(-5), day(-20));
    const a3 = await invoice(students.asha, 6_000, day(-45), day(-70));
    const b1 = await invoice(students.bala, 8_000, day(3));
    // Cash counted at 00:30 this morning, entered at 09:00.
    const a2Cash = await pay(a2.id, 2_000, { paidAt: await at(day(0), '00:30') });
    // 20:00 here is 03:00 or 04:00 tomorrow in UTC: still day 0 for the school.
    await clock(day(0), '20:00');
    const a3Evening = await pay(a3.id, 1_000);
    await clock(day(0), '23:00');
    await keepDay(day(0));
    expect(kept.get(day(0))!.asha.totals).toEqual({
      invoicedMinor: 21_000,
      paidMinor: 3_000,
      refundedMinor: 0,
      balanceMinor: 18_000,
      creditMinor: 0,
    });
    expect(kept.get(day(0))!.school.aging).toMatchObject({
      current: 18_000,
      days1To30: 3_000,
      days31To60: 5_000,
    });

    // ── Day 1: Bala overpays, the excess moves onto a new invoice; Asha pays (back-dated) and is refunded ──
    await clock(day(1), '08:00');
    const b1Transfer = await pay(b1.id, 10_000);
    const b2 = await invoice(students.bala, 3_000, day(6));
    await pay(a1.id, 4_000, { paidAt: await at(day(1), '07:00') });
    await refund(a2Cash.id, 500);
    await clock(day(1), '23:30');
    await keepDay(day(1));
    expect(kept.get(day(1))!.bala.totals).toMatchObject({
      paidMinor: 10_000,
      balanceMinor: 1_000,
      creditMinor: 0,
    });

    // ── Day 2: Asha's first invoice is voided (its money moves to her oldest open invoice); Chetan is billed ──
    await clock(day(2), '10:00');
    await voidInvoice(a1.id);
    const c1 = await invoice(students.chetan, 7_000, day(42));
    // asOf today is today: the same answer as no asOf at all.
    for (const path of Object.values(views())) {
      expect(await get(withAsOf(path, day(2)))).toEqual(await get(path));
    }
    await clock(day(2), '23:00');
    await keepDay(day(2));
    expect(kept.get(day(2))!.asha.invoices.find((row: any) => row.id === a1.id)).toMatchObject({
      status: 'void',
      paidMinor: 0,
      balanceMinor: 0,
    });

    // ── Day 3: Chetan pays by cheque; part of Bala's transfer is refunded (his invoice reopens); he pays again ──
    await clock(day(3), '12:00');
    const c1Cheque = await pay(c1.id, 7_000, { method: 'cheque' });
    await refund(b1Transfer.id, 1_000);
    await clock(day(3), '21:00');
    await pay(b2.id, 1_000);
    await clock(day(3), '23:59');
    await keepDay(day(3));

    // ── Day 5 (nothing on day 4): Bala's second invoice is voided, Chetan refunded in full, Asha pays (back-dated) ──
    await clock(day(5), '09:00');
    await voidInvoice(b2.id);
    await refund(c1Cheque.id, 7_000);
    await pay(a3.id, 1_000, { paidAt: await at(day(5), '00:15') });
    await clock(day(5), '23:00');
    await keepDay(day(5));

    // ── Day 7: more money moves, none of it back-dated ──
    await clock(day(7), '11:00');
    await refund(a3Evening.id, 1_000);
    await refund(b1Transfer.id, 2_000);
    await invoice(students.chetan, 2_500, day(17));
    const a2Upi = await pay(a2.id, 500);
    await voidInvoice(b1.id);

    // Today's statements have moved on from every kept day's...
    const now = await get(views().school);
    expect(now.totals).not.toEqual(kept.get(day(5))!.school.totals);
    // ...and each kept day, asked for by date, is what was kept.
    for (const [date, copies] of kept) {
      for (const [name, path] of Object.entries(views())) {
        expect(await get(withAsOf(path, date)), `${name} as of ${date}`).toEqual(copies[name]);
      }
    }

    // ── A cheque received on day 3, entered only now: day 3 gains it, day 2 does not ──
    const late = await pay(a2.id, 2_000, { paidAt: await at(day(3), '15:00'), method: 'cheque' });
    const before = kept.get(day(3))!.asha;
    const ashaDay3 = await get(withAsOf(views().asha, day(3)));
    expect(ashaDay3.totals).toEqual({
      ...before.totals,
      paidMinor: before.totals.paidMinor + 2_000,
      balanceMinor: before.totals.balanceMinor - 2_000,
    });
    const a2Before = before.invoices.find((row: any) => row.id === a2.id);
    expect(ashaDay3.invoices.find((row: any) => row.id === a2.id)).toEqual({
      ...a2Before,
      paidMinor: a2Before.paidMinor + 2_000,
      balanceMinor: a2Before.balanceMinor - 2_000,
      payments: [
        ...a2Before.payments,
        expect.objectContaining({ id: late.id, amountMinor: 2_000, refunds: [] }),
      ],
    });
    const schoolDay3 = await get(withAsOf(views().school, day(3)));
    expect(schoolDay3.totals.paidMinor).toBe(kept.get(day(3))!.school.totals.paidMinor + 2_000);
    expect(schoolDay3.aging.days1To30).toBe(kept.get(day(3))!.school.aging.days1To30 - 2_000);
    expect(await get(withAsOf(views().asha, day(2)))).toEqual(kept.get(day(2))!.asha);
    // The UPI payment of day 7 is not in day 3, whatever happened to the invoice since.
    expect(JSON.stringify(ashaDay3)).not.toContain(a2Upi.id);
  });
});
