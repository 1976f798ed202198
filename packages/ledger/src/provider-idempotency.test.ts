import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { dbBuilders, daysFromToday, freshDatabase } from '@bursar/test-support';
import { issueInvoice } from './invoices.js';
import { applyPayment, refundPayment } from './payments.js';

const { db } = await freshDatabase();

async function invoice(schoolId: string, amountMinor = 10_000n) {
  const studentId = await dbBuilders(db).student(schoolId);
  return db.transaction().execute((trx) =>
    issueInvoice(trx, {
      schoolId,
      studentId,
      issueDate: daysFromToday(0),
      dueDate: daysFromToday(10),
      lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: amountMinor }],
    }),
  );
}

const online = (schoolId: string, invoiceId: string, providerPaymentId: string) => ({
  schoolId,
  invoiceId,
  amountMinor: 4_000n,
  method: 'online' as const,
  reference: providerPaymentId,
  provider: 'razorpay',
  providerPaymentId,
});

describe('provider ids make applyPayment and refundPayment idempotent', () => {
  it('returns the existing payment for a provider payment applied before, even to another invoice at once', async () => {
    const schoolId = await dbBuilders(db).school();
    const [a, b] = [await invoice(schoolId), await invoice(schoolId)];
    const providerPaymentId = `pay_${Math.random().toString(36).slice(2)}`;
    // Two invoices (two students), so the invoice lock does not serialise them: the unique key must.
    const results = await Promise.all(
      [a, b, a, b].map((invoiceId) =>
        db.transaction().execute((trx) => applyPayment(trx, online(schoolId, invoiceId, providerPaymentId))),
      ),
    );
    const fresh = results.filter((result) => !result.duplicate);
    expect(fresh).toHaveLength(1);
    expect(new Set(results.map((result) => result.paymentId)).size).toBe(1);
    for (const result of results.filter((result) => result.duplicate)) {
      expect(result).toMatchObject({ appliedMinor: 0n, creditedMinor: 0n });
    }
    const paid = await db.selectFrom('invoices').select('paidMinor').where('id', 'in', [a, b]).execute();
    expect(paid.map((row) => row.paidMinor).sort()).toEqual([0n, 4_000n]);
  });

  it('lets a second apply that raced past the lookup insert nothing once the first commits', async () => {
    const schoolId = await dbBuilders(db).school();
    const [a, b] = [await invoice(schoolId), await invoice(schoolId)];
    const providerPaymentId = `pay_${Math.random().toString(36).slice(2)}`;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const firstInserted = new Promise<void>((resolve) => (inserted = resolve));
    const first = db.transaction().execute(async (trx) => {
      const result = await applyPayment(trx, online(schoolId, a, providerPaymentId));
      inserted();
      await gate;
      return result;
    });
    await firstInserted;
    // The first has inserted but not committed: the second's lookup sees nothing and its insert waits.
    const second = db
      .transaction()
      .execute((trx) => applyPayment(trx, online(schoolId, b, providerPaymentId)));
    for (;;) {
      const waiting = await sql<{ count: string }>`
        select count(*) from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query ilike 'insert into "payments"%'
      `.execute(db);
      if (Number(waiting.rows[0]!.count) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    release();
    const [one, two] = await Promise.all([first, second]);
    expect(one.duplicate).toBe(false);
    expect(two).toEqual({ paymentId: one.paymentId, appliedMinor: 0n, creditedMinor: 0n, duplicate: true });
    const paid = await db
      .selectFrom('invoices')
      .select(['id', 'paidMinor'])
      .where('id', '=', b)
      .executeTakeFirstOrThrow();
    expect(paid.paidMinor).toBe(0n);
  });

  it('keeps manual payments as they were: every call is a new payment', async () => {
    const schoolId = await dbBuilders(db).school();
    const invoiceId = await invoice(schoolId);
    const manual = { schoolId, invoiceId, amountMinor: 1_000n, method: 'cash' as const };
    const first = await db.transaction().execute((trx) => applyPayment(trx, manual));
    const second = await db.transaction().execute((trx) => applyPayment(trx, manual));
    expect(first.paymentId).not.toBe(second.paymentId);
    expect([first.duplicate, second.duplicate]).toEqual([false, false]);
  });

  it('records a provider refund once however often it is asked for', async () => {
    const schoolId = await dbBuilders(db).school();
    const invoiceId = await invoice(schoolId);
    const providerPaymentId = `pay_${Math.random().toString(36).slice(2)}`;
    const { paymentId } = await db
      .transaction()
      .execute((trx) => applyPayment(trx, online(schoolId, invoiceId, providerPaymentId)));
    const refund = {
      schoolId,
      paymentId,
      amountMinor: 1_500n,
      reason: 'Refunded through razorpay',
      provider: 'razorpay',
      providerRefundId: `rfnd_${Math.random().toString(36).slice(2)}`,
    };
    const results = await Promise.all(
      [1, 2, 3].map(() => db.transaction().execute((trx) => refundPayment(trx, refund))),
    );
    expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
    expect(new Set(results.map((result) => result.refundId)).size).toBe(1);
    const payment = await db
      .selectFrom('payments')
      .select('refundedMinor')
      .where('id', '=', paymentId)
      .executeTakeFirstOrThrow();
    expect(payment.refundedMinor).toBe(1_500n);
  });
});
