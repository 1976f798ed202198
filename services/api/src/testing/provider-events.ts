/**
 * Provider events and reconciliation items as the webhook receiver and the
 * worker leave them, written straight into a test's database: the api only
 * reads and resolves them. Bodies are byte-exact Razorpay `payment.captured`
 * events. Used only by tests.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { ReconciliationReason } from '@bursar/contracts';

const token = () => randomBytes(7).toString('hex');

/** A Razorpay `payment.captured` event, as Razorpay sends it. */
export function razorpayCaptured(input: {
  paymentId: string;
  amountMinor: number;
  currency: string;
  notes?: Record<string, string>;
}): { eventId: string; body: Buffer } {
  const body = {
    entity: 'event',
    account_id: 'acc_BursarTest01',
    event: 'payment.captured',
    contains: ['payment'],
    payload: {
      payment: {
        entity: {
          id: input.paymentId,
          entity: 'payment',
          amount: input.amountMinor,
          currency: input.currency,
          status: 'captured',
          order_id: `order_${token()}`,
          method: 'upi',
          notes: input.notes && Object.keys(input.notes).length ? input.notes : [],
          created_at: Math.floor(Date.now() / 1000),
        },
      },
    },
    created_at: Math.floor(Date.now() / 1000),
  };
  return { eventId: `evt_${token()}`, body: Buffer.from(JSON.stringify(body)) };
}

/** Stores a provider event (the inbox row billing-webhook writes); returns its row id and the provider's event id. */
export async function storeProviderEvent(
  db: Kysely<DB>,
  input: {
    paymentId: string;
    amountMinor: number;
    currency: string;
    notes?: Record<string, string>;
    status?: string;
    schoolId?: string | null;
    bursarPaymentId?: string | null;
    receivedAt?: Date;
  },
): Promise<{ id: string; eventId: string }> {
  const { eventId, body } = razorpayCaptured(input);
  const row = await db
    .insertInto('providerEvents')
    .values({
      provider: 'razorpay',
      eventId,
      eventType: 'payment.captured',
      headers: JSON.stringify({ 'x-razorpay-event-id': eventId, 'content-type': 'application/json' }),
      body,
      status: input.status ?? 'received',
      schoolId: input.schoolId ?? null,
      providerPaymentId: input.paymentId,
      paymentId: input.bursarPaymentId ?? null,
      processedAt: input.status && input.status !== 'received' ? new Date() : null,
      ...(input.receivedAt ? { receivedAt: input.receivedAt } : {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, eventId };
}

/**
 * Provider money the worker could not place: its event (status
 * `reconciliation`) and the open item. `schoolId` null is money no school
 * could be found for.
 */
export async function storeReconciliationItem(
  db: Kysely<DB>,
  input: {
    schoolId: string | null;
    amountMinor: number;
    currency?: string;
    reason?: ReconciliationReason;
    createdAt?: Date;
  },
): Promise<{ id: string; eventId: string; providerPaymentId: string }> {
  const providerPaymentId = `pay_${token()}`;
  const currency = input.currency ?? 'INR';
  const event = await storeProviderEvent(db, {
    paymentId: providerPaymentId,
    amountMinor: input.amountMinor,
    currency,
    status: 'reconciliation',
    schoolId: input.schoolId,
  });
  const item = await db
    .insertInto('reconciliationItems')
    .values({
      schoolId: input.schoolId,
      eventId: event.id,
      provider: 'razorpay',
      providerPaymentId,
      amountMinor: BigInt(input.amountMinor),
      currency,
      reason: input.reason ?? 'unknown_invoice',
      detail: 'The notes name an invoice Bursar does not have',
      ...(input.createdAt ? { createdAt: input.createdAt } : {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: item.id, eventId: event.eventId, providerPaymentId };
}
