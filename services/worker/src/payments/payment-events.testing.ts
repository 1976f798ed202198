/**
 * Test helpers for the payments processor: invoices issued through the ledger,
 * provider events built byte-exact in the providers' real formats, and stored
 * the way billing-webhook stores them (an inbox row plus its outbox job in one
 * transaction). Only tests import this file.
 */
import { randomBytes } from 'node:crypto';
import { applyPaymentEvent } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { issueInvoice } from '@bursar/ledger';
import { enqueue } from '@bursar/platform';
import { dbBuilders, daysFromToday } from '@bursar/test-support';
import type { Kysely } from 'kysely';

/** A random provider-style id: `pay_…`, `plink_…`, `evt_…`. */
export function providerId(prefix: string): string {
  return `${prefix}_${randomBytes(7).toString('hex')}`;
}

/** A school with one student and an open invoice of `amountMinor`, issued through the ledger. */
export async function invoiceFor(
  db: Kysely<DB>,
  amountMinor = 100_000n,
  school: { currency?: string; schoolId?: string } = {},
) {
  const builders = dbBuilders(db);
  const schoolId = school.schoolId ?? (await builders.school({ currency: school.currency ?? 'INR' }));
  const studentId = await builders.student(schoolId);
  const invoiceId = await db.transaction().execute((trx) =>
    issueInvoice(trx, {
      schoolId,
      studentId,
      issueDate: daysFromToday(0),
      dueDate: daysFromToday(14),
      lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: amountMinor }],
    }),
  );
  const { number } = await db
    .selectFrom('invoices')
    .select('number')
    .where('id', '=', invoiceId)
    .executeTakeFirstOrThrow();
  return { schoolId, studentId, invoiceId, invoiceNumber: number };
}

/** A Razorpay pay link Bursar stored for the invoice, as the api does; returns its `plink_` id. */
export async function storedRazorpayLink(
  db: Kysely<DB>,
  invoice: { schoolId: string; invoiceId: string },
  amountMinor: bigint,
): Promise<string> {
  const linkId = providerId('plink');
  await db
    .insertInto('paymentLinks')
    .values({
      schoolId: invoice.schoolId,
      invoiceId: invoice.invoiceId,
      provider: 'razorpay',
      providerReference: linkId,
      url: `https://rzp.io/i/${linkId}`,
      amountMinor,
      currency: 'INR',
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
    })
    .execute();
  return linkId;
}

/** The invoice's money as the ledger keeps it. */
export async function invoiceMoney(db: Kysely<DB>, invoiceId: string) {
  const row = await db
    .selectFrom('invoices')
    .select(['totalMinor', 'paidMinor', 'refundedMinor', 'voidedAt'])
    .where('id', '=', invoiceId)
    .executeTakeFirstOrThrow();
  return { ...row, balanceMinor: row.totalMinor - row.paidMinor + row.refundedMinor };
}

export type Notes = Record<string, unknown> | unknown[];

const seconds = () => Math.floor(Date.now() / 1000);

function razorpayPayment(input: { paymentId: string; amountMinor: bigint; currency?: string; notes: Notes }) {
  return {
    id: input.paymentId,
    entity: 'payment',
    amount: Number(input.amountMinor),
    currency: input.currency ?? 'INR',
    status: 'captured',
    order_id: `order_${input.paymentId.slice(4)}`,
    method: 'upi',
    captured: true,
    notes: input.notes,
    created_at: seconds() - 2,
  };
}

function razorpayBody(type: string, payload: Record<string, unknown>): string {
  return JSON.stringify({
    entity: 'event',
    account_id: 'acc_TestAccount01',
    event: type,
    contains: Object.keys(payload),
    payload,
    created_at: seconds(),
  });
}

/** Razorpay `payment.captured`. */
export function razorpayCaptured(input: {
  paymentId: string;
  amountMinor: bigint;
  currency?: string;
  notes: Notes;
}) {
  return {
    type: 'payment.captured',
    body: razorpayBody('payment.captured', { payment: { entity: razorpayPayment(input) } }),
  };
}

/** Razorpay `payment_link.paid`: the link (with the notes) and the payment (notes empty, as Razorpay sends them). */
export function razorpayLinkPaid(input: {
  paymentId: string;
  linkId: string;
  amountMinor: bigint;
  notes: Notes;
}) {
  const amount = Number(input.amountMinor);
  return {
    type: 'payment_link.paid',
    body: razorpayBody('payment_link.paid', {
      payment_link: {
        entity: {
          id: input.linkId,
          entity: 'payment_link',
          amount,
          amount_paid: amount,
          currency: 'INR',
          notes: input.notes,
          status: 'paid',
          reference_id: 'ref',
        },
      },
      order: {
        entity: {
          id: `order_${input.paymentId.slice(4)}`,
          amount,
          amount_paid: amount,
          notes: [],
          status: 'paid',
        },
      },
      payment: { entity: razorpayPayment({ ...input, notes: [] }) },
    }),
  };
}

/** Razorpay `order.paid`. */
export function razorpayOrderPaid(input: { paymentId: string; amountMinor: bigint; notes: Notes }) {
  const amount = Number(input.amountMinor);
  return {
    type: 'order.paid',
    body: razorpayBody('order.paid', {
      order: {
        entity: {
          id: `order_${input.paymentId.slice(4)}`,
          amount,
          amount_paid: amount,
          currency: 'INR',
          notes: input.notes,
          status: 'paid',
        },
      },
      payment: { entity: razorpayPayment(input) },
    }),
  };
}

/** Razorpay `refund.processed`. */
export function razorpayRefund(input: { refundId: string; paymentId: string; amountMinor: bigint }) {
  return {
    type: 'refund.processed',
    body: razorpayBody('refund.processed', {
      refund: {
        entity: {
          id: input.refundId,
          entity: 'refund',
          amount: Number(input.amountMinor),
          currency: 'INR',
          payment_id: input.paymentId,
          status: 'processed',
          notes: [],
        },
      },
    }),
  };
}

function stripeBody(eventId: string, type: string, object: Record<string, unknown>): string {
  return JSON.stringify({
    id: eventId,
    object: 'event',
    type,
    created: seconds(),
    api_version: '2024-06-20',
    livemode: false,
    data: { object },
  });
}

/** Stripe `checkout.session.completed` (paid), currency in lower case as Stripe sends it. */
export function stripeSessionCompleted(input: {
  eventId: string;
  sessionId: string;
  paymentIntentId: string;
  amountMinor: bigint;
  metadata: Record<string, unknown>;
}) {
  return {
    type: 'checkout.session.completed',
    body: stripeBody(input.eventId, 'checkout.session.completed', {
      id: input.sessionId,
      object: 'checkout.session',
      amount_total: Number(input.amountMinor),
      currency: 'inr',
      metadata: input.metadata,
      client_reference_id: input.metadata.invoiceId ?? null,
      payment_intent: input.paymentIntentId,
      payment_status: 'paid',
      status: 'complete',
    }),
  };
}

/** Stripe `payment_intent.succeeded`. */
export function stripeIntentSucceeded(input: {
  eventId: string;
  paymentIntentId: string;
  amountMinor: bigint;
  metadata: Record<string, unknown>;
}) {
  return {
    type: 'payment_intent.succeeded',
    body: stripeBody(input.eventId, 'payment_intent.succeeded', {
      id: input.paymentIntentId,
      object: 'payment_intent',
      amount: Number(input.amountMinor),
      amount_received: Number(input.amountMinor),
      currency: 'inr',
      metadata: input.metadata,
      status: 'succeeded',
      latest_charge: `ch_${input.paymentIntentId.slice(3)}`,
      created: seconds() - 5,
    }),
  };
}

/**
 * Stores a verified webhook as billing-webhook does: the body byte-exact with
 * its headers in `provider_events`, and in the same transaction the
 * `payment-event.apply` job in the outbox. Returns the row id the job carries.
 */
export async function storeEvent(
  db: Kysely<DB>,
  provider: 'razorpay' | 'stripe',
  event: { type: string; body: string },
  eventId = provider === 'stripe' ? (JSON.parse(event.body) as { id: string }).id : providerId('evt'),
): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('providerEvents')
      .values({
        provider,
        eventId,
        eventType: event.type,
        headers: JSON.stringify({ 'content-type': 'application/json', 'x-razorpay-event-id': eventId }),
        body: Buffer.from(event.body),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(trx, applyPaymentEvent, { eventId: row.id });
    return row.id;
  });
}

/** The stored event's row as the worker left it. */
export async function eventRow(db: Kysely<DB>, id: string) {
  return db.selectFrom('providerEvents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Every payment recorded under this provider id (exactly-once means one). */
export async function paymentsOf(db: Kysely<DB>, providerPaymentId: string) {
  return db.selectFrom('payments').selectAll().where('providerPaymentId', '=', providerPaymentId).execute();
}
