import { AppError, type PaymentMethod } from '@bursar/contracts';
import { sql } from 'kysely';
import type { Db, Trx } from './db.js';
import { lockStudent, settleStudent } from './credit.js';
import { lockInvoice } from './invoices.js';
import { minBig } from './money.js';

export interface ApplyPaymentInput {
  schoolId: string;
  invoiceId: string;
  amountMinor: bigint;
  method: PaymentMethod;
  reference?: string | null;
  paidAt?: Date;
  createdBy?: string | null;
  /** Set for provider payments: `(provider, providerPaymentId)` is unique, so a redelivered event applies once. */
  provider?: string | null;
  providerPaymentId?: string | null;
}

/**
 * Records a payment against an invoice: what the invoice still asks for is
 * applied to it, any excess becomes the student's credit and moves to their
 * next open invoice (oldest due first). Used for manual payments (api) and
 * provider payments (worker) alike.
 */
export async function applyPayment(
  trx: Trx,
  input: ApplyPaymentInput,
): Promise<{ paymentId: string; appliedMinor: bigint; creditedMinor: bigint; duplicate: boolean }> {
  if (input.amountMinor <= 0n) throw new AppError('validation_failed', 'A payment must be a positive amount');
  const invoice = await lockInvoice(trx, input.schoolId, input.invoiceId);
  const providerKey =
    input.provider && input.providerPaymentId
      ? { provider: input.provider, providerPaymentId: input.providerPaymentId }
      : null;
  if (providerKey) {
    // Checked before the void check: a payment applied before its invoice was voided is
    // still that payment when its event is delivered again.
    const existing = await findProviderPayment(trx, providerKey.provider, providerKey.providerPaymentId);
    if (existing) return { paymentId: existing.id, appliedMinor: 0n, creditedMinor: 0n, duplicate: true };
  }
  if (invoice.voidedAt)
    throw new AppError('conflict', `Invoice ${invoice.number} is void and cannot take payments`);
  const paidAt = input.paidAt ?? new Date();
  const inserted = await trx
    .insertInto('payments')
    .values({
      schoolId: input.schoolId,
      studentId: invoice.studentId,
      invoiceId: invoice.id,
      amountMinor: input.amountMinor,
      currency: invoice.currency,
      method: input.method,
      reference: input.reference ?? null,
      paidAt,
      createdBy: input.createdBy ?? null,
      provider: input.provider ?? null,
      providerPaymentId: input.providerPaymentId ?? null,
    })
    // The invoice lock serialises applies to one invoice; this covers one provider payment
    // reaching two invoices at once (the second waits for the first to commit, then inserts nothing).
    .$if(providerKey !== null, (query) =>
      query.onConflict((conflict) =>
        conflict.columns(['provider', 'providerPaymentId']).where('provider', 'is not', null).doNothing(),
      ),
    )
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const existing = await findProviderPayment(trx, providerKey!.provider, providerKey!.providerPaymentId);
    if (!existing) throw new Error('a provider payment conflicted on insert but cannot be found');
    return { paymentId: existing.id, appliedMinor: 0n, creditedMinor: 0n, duplicate: true };
  }
  const payment = inserted;
  const balance = invoice.totalMinor - invoice.paidMinor + invoice.refundedMinor;
  const applied = minBig(input.amountMinor, balance > 0n ? balance : 0n);
  if (applied > 0n) {
    await trx
      .insertInto('allocations')
      .values({
        schoolId: input.schoolId,
        paymentId: payment.id,
        invoiceId: invoice.id,
        amountMinor: applied,
        kind: 'payment',
        // The money counted on the invoice from when it was paid, not when it was entered.
        effectiveAt: paidAt,
      })
      .execute();
    await trx
      .updateTable('invoices')
      .set({ paidMinor: sql`paid_minor + ${applied}`, updatedAt: new Date() })
      .where('id', '=', invoice.id)
      .execute();
  }
  const excess = input.amountMinor - applied;
  if (excess > 0n) {
    await trx
      .updateTable('students')
      .set({ creditMinor: sql`credit_minor + ${excess}` })
      .where('id', '=', invoice.studentId)
      .execute();
  }
  await settleStudent(trx, input.schoolId, invoice.studentId);
  return { paymentId: payment.id, appliedMinor: applied, creditedMinor: excess, duplicate: false };
}

/** The payment a provider reported under this id, in any school (provider ids are global). */
export async function findProviderPayment(db: Db, provider: string, providerPaymentId: string) {
  return db
    .selectFrom('payments')
    .select(['id', 'schoolId', 'studentId', 'invoiceId', 'amountMinor', 'refundedMinor', 'currency'])
    .where('provider', '=', provider)
    .where('providerPaymentId', '=', providerPaymentId)
    .executeTakeFirst();
}

/**
 * Refunds part or all of a payment, never more than its unrefunded amount
 * (409). Money the payment left as credit is refunded first; the rest is taken
 * back from the invoices it paid (its own invoice first), which reopens them.
 */
export async function refundPayment(
  trx: Trx,
  input: {
    schoolId: string;
    paymentId: string;
    amountMinor: bigint;
    reason: string;
    createdBy?: string | null;
    /** Set for provider refunds: `(provider, providerRefundId)` is unique, so a redelivered refund applies once. */
    provider?: string | null;
    providerRefundId?: string | null;
  },
): Promise<{ refundId: string; fromCreditMinor: bigint; duplicate: boolean }> {
  const found = await trx
    .selectFrom('payments')
    .select(['studentId'])
    .where('id', '=', input.paymentId)
    .where('schoolId', '=', input.schoolId)
    .executeTakeFirst();
  if (!found) throw new AppError('not_found', 'Payment not found');
  await lockStudent(trx, input.schoolId, found.studentId);
  const payment = await trx
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', input.paymentId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  if (input.provider && input.providerRefundId) {
    // Under the student and payment locks, so two deliveries of one refund cannot both pass.
    const existing = await trx
      .selectFrom('refunds')
      .select('id')
      .where('provider', '=', input.provider)
      .where('providerRefundId', '=', input.providerRefundId)
      .executeTakeFirst();
    if (existing) return { refundId: existing.id, fromCreditMinor: 0n, duplicate: true };
  }
  const now = new Date();
  const refundable = payment.amountMinor - payment.refundedMinor;
  if (input.amountMinor > refundable) {
    throw new AppError(
      'conflict',
      `Only ${refundable} (minor units) of this payment is left to refund; ${input.amountMinor} was asked for`,
    );
  }
  const allocated = await trx
    .selectFrom('allocations')
    .innerJoin('invoices', 'invoices.id', 'allocations.invoiceId')
    .select(['allocations.invoiceId', sql<bigint>`sum(allocations.amount_minor)::bigint`.as('net')])
    .where('allocations.paymentId', '=', payment.id)
    .groupBy(['allocations.invoiceId', 'invoices.issueDate', 'invoices.number'])
    .having(sql`sum(allocations.amount_minor)`, '>', 0)
    .orderBy(sql`allocations.invoice_id = ${payment.invoiceId}`, 'desc')
    .orderBy('invoices.issueDate', 'desc')
    .orderBy('invoices.number', 'desc')
    .execute();
  const netAllocated = allocated.reduce((sum, row) => sum + row.net, 0n);
  const unallocated = refundable - netAllocated;
  const fromCredit = minBig(input.amountMinor, unallocated);
  let rest = input.amountMinor - fromCredit;
  for (const row of allocated) {
    if (rest === 0n) break;
    const take = minBig(rest, row.net);
    await trx
      .insertInto('allocations')
      .values({
        schoolId: input.schoolId,
        paymentId: payment.id,
        invoiceId: row.invoiceId,
        amountMinor: -take,
        kind: 'refund',
        effectiveAt: now,
      })
      .execute();
    await trx
      .updateTable('invoices')
      .set({ refundedMinor: sql`refunded_minor + ${take}`, updatedAt: new Date() })
      .where('id', '=', row.invoiceId)
      .execute();
    rest -= take;
  }
  await trx
    .updateTable('payments')
    .set({ refundedMinor: sql`refunded_minor + ${input.amountMinor}` })
    .where('id', '=', payment.id)
    .execute();
  if (fromCredit > 0n) {
    await trx
      .updateTable('students')
      .set({ creditMinor: sql`credit_minor - ${fromCredit}` })
      .where('id', '=', payment.studentId)
      .execute();
  }
  const refund = await trx
    .insertInto('refunds')
    .values({
      schoolId: input.schoolId,
      paymentId: payment.id,
      amountMinor: input.amountMinor,
      fromCreditMinor: fromCredit,
      reason: input.reason,
      createdBy: input.createdBy ?? null,
      createdAt: now,
      provider: input.provider ?? null,
      providerRefundId: input.providerRefundId ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // A refund can reopen an invoice; other credit the student holds moves onto it.
  await settleStudent(trx, input.schoolId, payment.studentId);
  return { refundId: refund.id, fromCreditMinor: fromCredit, duplicate: false };
}
