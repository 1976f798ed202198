import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreatePaymentBody,
  CreateRefundBody,
  Payment,
  PaymentEvent,
  PaymentReceipt,
  Refund,
} from '@bursar/contracts';
import { applyPayment, refundPayment, toNumber } from '@bursar/ledger';
import { findInvoice } from '../invoices/invoices.service.js';
import { listPayments, type PaymentRow } from './payments.repository.js';
import { notFound, withIdempotency, recordAudit, type Actor } from '@bursar/platform';

type Db = Kysely<DB> | Transaction<DB>;

/** A refund row → API shape (money as JSON numbers, times as ISO strings). */
export function toRefund(row: {
  id: string;
  paymentId: string;
  amountMinor: bigint;
  fromCreditMinor: bigint;
  reason: string;
  createdAt: Date;
}): Refund {
  return {
    id: row.id,
    paymentId: row.paymentId,
    amountMinor: toNumber(row.amountMinor),
    fromCreditMinor: toNumber(row.fromCreditMinor),
    reason: row.reason,
    createdAt: row.createdAt.toISOString(),
  };
}

function toPayment(row: PaymentRow): Payment {
  return {
    id: row.id,
    schoolId: row.schoolId,
    invoiceId: row.invoiceId,
    studentId: row.studentId,
    amountMinor: toNumber(row.amountMinor),
    refundedMinor: toNumber(row.refundedMinor),
    currency: row.currency,
    method: row.method as Payment['method'],
    reference: row.reference,
    paidAt: row.paidAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    refunds: row.refunds.map(toRefund),
    provider: row.provider as Payment['provider'],
    providerPaymentId: row.providerPaymentId,
    events: row.events.map((event) => ({
      provider: event.provider as PaymentEvent['provider'],
      eventId: event.eventId,
      type: event.eventType,
      status: event.status as PaymentEvent['status'],
      receivedAt: event.receivedAt.toISOString(),
      processedAt: event.processedAt?.toISOString() ?? null,
    })),
  };
}

export async function findPayment(db: Db, scope: string | null, id: string): Promise<Payment> {
  const [row] = await listPayments(db, scope, { id });
  if (!row) throw notFound('Payment');
  return toPayment(row);
}

export async function listInvoicePayments(
  db: Db,
  scope: string | null,
  invoiceId: string,
): Promise<Payment[]> {
  const invoice = await findInvoice(db, scope, invoiceId);
  return (await listPayments(db, invoice.schoolId, { invoiceId })).map(toPayment);
}

/**
 * Records a manual payment exactly once per Idempotency-Key: a replay returns
 * the first answer (status and body), a different request under the key is 422.
 */
export async function recordPayment(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  invoiceId: string,
  idempotencyKey: string,
  body: CreatePaymentBody,
) {
  // Resolve the school first: keys are per school, and another school's invoice is a 404.
  const { schoolId } = await findInvoice(db, scope, invoiceId);
  return withIdempotency(
    db,
    { schoolId, scope: 'invoice-payment', key: idempotencyKey, request: { invoiceId, body } },
    async (trx) => {
      const result = await applyPayment(trx, {
        schoolId,
        invoiceId,
        amountMinor: BigInt(body.amountMinor),
        method: body.method,
        reference: body.reference ?? null,
        paidAt: body.paidAt ? new Date(body.paidAt) : new Date(),
        createdBy: actor.caller.userId,
      });
      const receipt: PaymentReceipt = {
        payment: await findPayment(trx, schoolId, result.paymentId),
        appliedMinor: toNumber(result.appliedMinor),
        creditedMinor: toNumber(result.creditedMinor),
        invoice: await findInvoice(trx, schoolId, invoiceId),
      };
      await recordAudit(trx, actor, {
        action: 'payment.create',
        entityType: 'payment',
        entityId: result.paymentId,
        schoolId,
        after: receipt,
      });
      return { status: 201, body: receipt };
    },
  );
}

/** Refunds part of a payment; with an Idempotency-Key a retry applies once and replays the first answer. */
export async function createRefund(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  paymentId: string,
  body: CreateRefundBody,
  idempotencyKey?: string,
): Promise<{ body: Refund; replayed: boolean }> {
  const { schoolId } = await findPayment(db, scope, paymentId);
  const work = async (trx: Transaction<DB>) => {
    const before = await findPayment(trx, schoolId, paymentId);
    const { refundId } = await refundPayment(trx, {
      schoolId,
      paymentId,
      amountMinor: BigInt(body.amountMinor),
      reason: body.reason,
      createdBy: actor.caller.userId,
    });
    const after = await findPayment(trx, schoolId, paymentId);
    await recordAudit(trx, actor, {
      action: 'refund.create',
      entityType: 'payment',
      entityId: paymentId,
      schoolId,
      before,
      after,
    });
    return { status: 201, body: after.refunds.find((r) => r.id === refundId)! };
  };
  if (!idempotencyKey) {
    const result = await db.transaction().execute(work);
    return { body: result.body, replayed: false };
  }
  const result = await withIdempotency(
    db,
    { schoolId, scope: 'payment-refund', key: idempotencyKey, request: { paymentId, body } },
    work,
  );
  return { body: result.body as Refund, replayed: result.replayed };
}
