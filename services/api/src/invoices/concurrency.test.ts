/**
 * Concurrency over HTTP: many requests at once against the real app and a real
 * database. Each test uses its own demo students (or its own issue year), so
 * the tests do not depend on one another or on their order.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { daysFromToday } from '@bursar/test-support';
import { DEMO_CLASSES, DEMO_SCHOOL, DEMO_STUDENTS } from '../seed/demo-data.js';
import { createTestApi, type Caller } from '../testing/harness.js';

/** A date relative to today in the demo school's zone, so no invoice here turns overdue with the calendar. */
const day = (offset: number) => daysFromToday(offset, DEMO_SCHOOL.timezone);

describe('concurrent billing requests', async () => {
  const api = await createTestApi();
  const accountant: Caller = await api.callerFor('accountant', api.demoSchoolId);

  const build = api.build(accountant);
  const pay = (invoiceId: string, amountMinor: number, key: string = randomUUID()) =>
    build.paymentRequest(invoiceId, amountMinor, { reference: 'UPI-CONCURRENT', idempotencyKey: key });
  const createInvoice = (studentId: string, amountMinor: number, dueDate: string, issueDate = day(-2)) =>
    build.invoiceRequest({ studentId, amountMinor, dueDate, issueDate });
  const invoice = async (studentId: string, amountMinor: number, dueDate: string) =>
    (await build.invoice({ studentId, amountMinor, dueDate, issueDate: day(-2) })) as {
      id: string;
      number: string;
    };

  /** The ledger invariants for one student, recomputed from the rows. */
  async function expectConsistent(studentId: string) {
    const invoices = await api.db
      .selectFrom('invoices')
      .selectAll()
      .where('studentId', '=', studentId)
      .execute();
    const payments = await api.db
      .selectFrom('payments')
      .selectAll()
      .where('studentId', '=', studentId)
      .execute();
    const allocations = await api.db
      .selectFrom('allocations')
      .innerJoin('payments', 'payments.id', 'allocations.paymentId')
      .select(['allocations.invoiceId', 'allocations.paymentId', 'allocations.amountMinor'])
      .where('payments.studentId', '=', studentId)
      .execute();
    const student = await api.db
      .selectFrom('students')
      .select('creditMinor')
      .where('id', '=', studentId)
      .executeTakeFirstOrThrow();
    const sum = (values: bigint[]) => values.reduce((total, value) => total + value, 0n);
    let open = 0;
    for (const row of invoices) {
      const applied = sum(allocations.filter((a) => a.invoiceId === row.id).map((a) => a.amountMinor));
      expect(row.paidMinor - row.refundedMinor, `${row.number}: paid − refunded = Σ allocations`).toBe(
        applied,
      );
      expect(applied >= 0n && applied <= row.totalMinor, `${row.number}: applied within [0, total]`).toBe(
        true,
      );
      if (!row.voidedAt && row.totalMinor > applied) open += 1;
    }
    const unallocated = payments.map(
      (p) =>
        p.amountMinor -
        p.refundedMinor -
        sum(allocations.filter((a) => a.paymentId === p.id).map((a) => a.amountMinor)),
    );
    expect(
      unallocated.every((left) => left >= 0n),
      'no payment allocates more than it has',
    ).toBe(true);
    expect(student.creditMinor, 'credit = Σ unallocated').toBe(sum(unallocated));
    if (student.creditMinor > 0n) expect(open, 'credit is held only when nothing is open').toBe(0);
  }

  it('applies 50 concurrent payments on one invoice exactly once each: paid + credit = the sum accepted', async () => {
    const studentId = DEMO_STUDENTS[1]!.id;
    const first = await invoice(studentId, 100_000, day(9));
    const second = await invoice(studentId, 80_000, day(40));
    const amounts = Array.from({ length: 50 }, (_, i) => 1_000 + i * 137);
    const responses = await Promise.all(amounts.map((amount) => pay(first.id, amount)));

    expect(responses.map((r) => r.status)).toEqual(amounts.map(() => 201));
    const accepted = responses.reduce((sum, r) => sum + r.body.payment.amountMinor, 0);
    expect(accepted).toBe(amounts.reduce((sum, amount) => sum + amount, 0)); // 217,825
    for (const r of responses)
      expect(r.body.appliedMinor + r.body.creditedMinor).toBe(r.body.payment.amountMinor);
    // The first invoice took exactly its total from the payments made on it.
    expect(responses.reduce((sum, r) => sum + r.body.appliedMinor, 0)).toBe(100_000);

    const [a, b] = await Promise.all([
      api.request(accountant, 'GET', `/api/invoices/${first.id}`),
      api.request(accountant, 'GET', `/api/invoices/${second.id}`),
    ]);
    expect(a.body).toMatchObject({ paidMinor: 100_000, balanceMinor: 0, status: 'paid' });
    expect(b.body).toMatchObject({ paidMinor: 80_000, balanceMinor: 0, status: 'paid' });
    expect(a.body.paidMinor + b.body.paidMinor + b.body.creditMinor).toBe(accepted);
    expect(b.body.creditMinor).toBe(accepted - 180_000);

    const rows = await api.db.selectFrom('payments').select('id').where('invoiceId', '=', first.id).execute();
    expect(rows).toHaveLength(50);
    await expectConsistent(studentId);
  }, 120_000);

  it('records one payment for 20 concurrent requests with the same Idempotency-Key and answers them all alike', async () => {
    const studentId = DEMO_STUDENTS[4]!.id;
    const target = await invoice(studentId, 50_000, day(23));
    const key = `concurrent-${randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 20 }, () => pay(target.id, 12_345, key)));

    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 201));
    for (const response of responses) expect(response.body).toEqual(responses[0]!.body);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    expect(responses[0]!.body).toMatchObject({
      appliedMinor: 12_345,
      creditedMinor: 0,
      invoice: { paidMinor: 12_345 },
    });

    const rows = await api.db
      .selectFrom('payments')
      .select('id')
      .where('invoiceId', '=', target.id)
      .execute();
    expect(rows.map((row) => row.id)).toEqual([responses[0]!.body.payment.id]);
    const keys = await api.db
      .selectFrom('idempotencyKeys')
      .select('key')
      .where('schoolId', '=', api.demoSchoolId)
      .where('key', '=', key)
      .execute();
    expect(keys).toHaveLength(1);
    const after = await api.request(accountant, 'GET', `/api/invoices/${target.id}`);
    expect(after.body).toMatchObject({ paidMinor: 12_345, balanceMinor: 50_000 - 12_345, status: 'partial' });
    await expectConsistent(studentId);
  });

  it('numbers 30 concurrently created invoices of one school consecutively, with no gaps', async () => {
    // A year no other test issues in (they issue around today), so the counter starts fresh for this test.
    const year = Number(day(0).slice(0, 4)) + 5;
    const students = DEMO_STUDENTS.filter((_, i) => i % DEMO_CLASSES.length === 2).map((s) => s.id);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        createInvoice(students[i % students.length]!, 1_000 + i, `${year}-05-01`, `${year}-04-01`),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 201));
    const numbers = responses.map((r) => r.body.number as string);
    expect(new Set(numbers).size).toBe(30);
    const sequence = numbers.map((n) => {
      expect(n).toMatch(new RegExp(`^INV-${year}-\\d{6}$`));
      return Number(n.slice(-6));
    });
    sequence.sort((x, y) => x - y);
    expect(sequence).toEqual(Array.from({ length: 30 }, (_, i) => sequence[0]! + i));
    // Every number the school holds for the year, from 1 up: nothing skipped.
    const all = await api.db
      .selectFrom('invoices')
      .select('number')
      .where('schoolId', '=', api.demoSchoolId)
      .where('number', 'like', `INV-${year}-%`)
      .execute();
    const held = all.map((row) => Number(row.number.slice(-6))).sort((x, y) => x - y);
    expect(held).toEqual(Array.from({ length: held.length }, (_, i) => i + 1));
  });

  it('issues a fee plan once when the same issue request arrives twice at the same time', async () => {
    const created = await api.request(accountant, 'POST', '/api/fee-plans', {
      body: {
        name: `Concurrent plan ${randomUUID().slice(0, 8)}`,
        academicYear: '2026-27',
        siblingDiscountPercent: 10,
        heads: [
          { name: 'Tuition', amountMinor: 1_200_000 },
          { name: 'Transport', amountMinor: 350_001 },
        ],
        instalments: [
          { label: 'Term 1', dueDate: day(-165), sharePercent: 33.33 },
          { label: 'Term 2', dueDate: day(-43), sharePercent: 33.33 },
          { label: 'Term 3', dueDate: day(49), sharePercent: 33.34 },
        ],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const plan = created.body as { id: string; instalments: { id: string }[] };
    const classId = DEMO_CLASSES[0]!.id;
    const issue = () =>
      api.request(accountant, 'POST', `/api/fee-plans/${plan.id}/issue`, {
        body: { classId, issueDate: day(-174) },
      });
    const [one, two] = await Promise.all([issue(), issue()]);
    expect([one.status, two.status], JSON.stringify([one.body, two.body])).toEqual([200, 200]);

    // Class 0 holds demo students 0, 3, 6 and 9; 6 and 9 are the younger siblings of 0 and 3.
    const classStudents = DEMO_STUDENTS.filter((_, i) => i % DEMO_CLASSES.length === 0);
    const pairs = classStudents.length * plan.instalments.length;
    expect(one.body.createdCount + two.body.createdCount).toBe(pairs);
    expect([one.body.createdCount, two.body.createdCount].sort((x, y) => x - y)).toEqual([0, pairs]);
    expect(Math.max(one.body.skippedCount, two.body.skippedCount)).toBe(pairs);

    const invoices = await api.db
      .selectFrom('invoices')
      .select(['id', 'studentId', 'instalmentId', 'totalMinor'])
      .where('feePlanId', '=', plan.id)
      .execute();
    expect(invoices).toHaveLength(pairs);
    expect(new Set(invoices.map((row) => `${row.studentId}/${row.instalmentId}`)).size).toBe(pairs);

    // Shares 33.33/33.33/33.34 %: every instalment but the last is rounded down, the last takes the rest.
    const heads = [
      [399_960n, 116_655n],
      [399_960n, 116_655n],
      [400_080n, 116_691n],
    ];
    // 10 % of each subtotal, half away from zero: 51,661.5 → 51,662; 51,677.1 → 51,677.
    const discounts = [51_662n, 51_662n, 51_677n];
    const younger = new Set([DEMO_STUDENTS[6]!.id, DEMO_STUDENTS[9]!.id]);
    for (const row of invoices) {
      const index = plan.instalments.findIndex((i) => i.id === row.instalmentId);
      const lines = await api.db
        .selectFrom('invoiceLines')
        .select(['feeHead', 'amountMinor'])
        .where('invoiceId', '=', row.id)
        .orderBy('position')
        .execute();
      const expected = [
        { feeHead: 'Tuition', amountMinor: heads[index]![0]! },
        { feeHead: 'Transport', amountMinor: heads[index]![1]! },
        ...(younger.has(row.studentId)
          ? [{ feeHead: 'sibling_discount', amountMinor: -discounts[index]! }]
          : []),
      ];
      expect(lines, `instalment ${index} for ${row.studentId}`).toEqual(expected);
      expect(row.totalMinor).toBe(expected.reduce((sum, line) => sum + line.amountMinor, 0n));
    }
    // Each head's instalments add up to the annual amount exactly.
    expect(heads.reduce((sum, [tuition]) => sum + tuition!, 0n)).toBe(1_200_000n);
    expect(heads.reduce((sum, [, transport]) => sum + transport!, 0n)).toBe(350_001n);

    // A third issue, now that both have finished, creates nothing either.
    const again = await issue();
    expect(again.body).toMatchObject({ createdCount: 0, skippedCount: pairs });
  });

  /** Resolves once some other session in this database is waiting for a row lock. */
  async function someoneWaitsOnALock() {
    for (;;) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`.execute(api.db);
      if (rows[0]!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('answers 404, not 500, when the invoice is deleted while a payment or void waits for the student', async () => {
    const studentId = DEMO_STUDENTS[10]!.id;
    for (const send of [
      (id: string) => pay(id, 1_000),
      (id: string) =>
        api.request(accountant, 'POST', `/api/invoices/${id}/void`, { body: { reason: 'Raced a delete' } }),
    ]) {
      const target = await invoice(studentId, 5_000, day(9));
      let waiting: ReturnType<typeof send> | undefined;
      // Hold the student's lock (as DELETE /api/invoices/:id does) and delete the invoice; the
      // request has already seen the invoice and queues behind the lock, then finds it gone.
      await api.db.transaction().execute(async (trx) => {
        await trx.selectFrom('students').select('id').where('id', '=', studentId).forUpdate().execute();
        await trx.deleteFrom('invoices').where('id', '=', target.id).execute();
        waiting = send(target.id);
        await someoneWaitsOnALock();
      });
      const response = await waiting!;
      expect(response.status, JSON.stringify(response.body)).toBe(404);
    }
  });

  it('keeps one student’s ledger consistent under concurrent payments, refunds and a void', async () => {
    const studentId = DEMO_STUDENTS[7]!.id;
    const a = await invoice(studentId, 40_000, day(9));
    const b = await invoice(studentId, 30_000, day(28));
    const c = await invoice(studentId, 20_000, day(59));
    const seed = await pay(a.id, 25_000);
    expect(seed.status).toBe(201);
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => pay([a, b, c][i % 3]!.id, 3_000 + i * 500)),
      api.request(accountant, 'POST', `/api/payments/${seed.body.payment.id}/refunds`, {
        body: { amountMinor: 5_000, reason: 'Concurrent refund' },
      }),
      api.request(accountant, 'POST', `/api/payments/${seed.body.payment.id}/refunds`, {
        body: { amountMinor: 6_000, reason: 'Concurrent refund' },
      }),
      api.request(accountant, 'POST', `/api/invoices/${b.id}/void`, {
        body: { reason: 'Issued by mistake' },
      }),
    ]);
    // Payments on b may land after its void (409); everything else succeeds.
    for (const [i, result] of results.entries()) {
      const allowed = i === 12 ? [200] : i < 10 && i % 3 === 1 ? [201, 409] : [201];
      expect(allowed, `request ${i}: ${JSON.stringify(result.body)}`).toContain(result.status);
    }
    await expectConsistent(studentId);
    const statement = await api.request(accountant, 'GET', `/api/students/${studentId}/statement`);
    const { totals } = statement.body;
    expect(totals.invoicedMinor - (totals.paidMinor - totals.refundedMinor)).toBe(
      totals.balanceMinor - totals.creditMinor,
    );
    expect(totals.refundedMinor).toBe(11_000);
  });
});
