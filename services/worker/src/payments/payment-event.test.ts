import { Queue, UnrecoverableError, type Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { applyPaymentEvent } from '@bursar/contracts';
import { dismissReconciliationItem, matchReconciliationItem, voidInvoice } from '@bursar/ledger';
import {
  createLogger,
  createOutboxRelay,
  createQueueWorker,
  createRedis,
  jobHandler,
} from '@bursar/platform';
import { freshDatabase, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { processors } from '../processors.js';
import { processPaymentEvent } from './payment-event.processor.js';
import { testDocuments } from '../documents/documents.testing.js';
import { testWhatsAppDeps } from '../whatsapp/whatsapp.testing.js';
import {
  eventRow,
  invoiceFor,
  invoiceMoney,
  paymentsOf,
  providerId,
  razorpayCaptured,
  razorpayLinkPaid,
  razorpayOrderPaid,
  razorpayRefund,
  storeEvent,
  storedRazorpayLink,
  stripeIntentSucceeded,
  stripeSessionCompleted,
} from './payment-events.testing.js';

const { db } = await freshDatabase();
const logger = createLogger('payments-test', 'silent');
const prefix = testQueuePrefix();
const producer = createRedis(testRedisUrl(), 'producer');
const relay = createOutboxRelay({ db, redis: producer, prefix, logger, sweepIntervalMs: 100 });
const documents = testDocuments(db, logger);
afterAll(async () => {
  await relay.stop();
  await producer.quit();
});

/** Runs the processor as the worker does, straight (no queue): for what happens to one event. */
const apply = (eventId: string) => processPaymentEvent({ eventId }, { db, logger, outbox: relay });

/** A real BullMQ worker on this file's prefix running the production processor table. */
function startWorker(): Worker {
  const connection = createRedis(testRedisUrl(), 'worker');
  const definition = applyPaymentEvent;
  const worker = createQueueWorker(
    definition.queue,
    [
      jobHandler(definition, (payload, job) =>
        processors[definition.name](payload, {
          db,
          logger,
          outbox: relay,
          documents,
          whatsapp: testWhatsAppDeps(),
          job,
        }),
      ),
    ],
    { connection, prefix, logger, concurrency: 4, db },
  );
  afterAll(async () => {
    await worker.close();
    await connection.quit();
  });
  return worker;
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}: ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function notesOf(invoice: { invoiceId: string; schoolId: string; invoiceNumber: string }) {
  return { invoiceId: invoice.invoiceId, schoolId: invoice.schoolId, invoiceNumber: invoice.invoiceNumber };
}

describe('applying provider payments', () => {
  it('applies payment.captured and payment_link.paid of one payment once, and marks the link paid', async () => {
    const invoice = await invoiceFor(db, 100_000n);
    const paymentId = providerId('pay');
    const linkId = await storedRazorpayLink(db, invoice, 100_000n);
    const captured = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({ paymentId, amountMinor: 100_000n, notes: notesOf(invoice) }),
    );
    const linkPaid = await storeEvent(
      db,
      'razorpay',
      razorpayLinkPaid({ paymentId, linkId, amountMinor: 100_000n, notes: notesOf(invoice) }),
    );
    await apply(captured);
    await apply(linkPaid);

    const payments = await paymentsOf(db, paymentId);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({
      provider: 'razorpay',
      method: 'online',
      reference: paymentId,
      amountMinor: 100_000n,
      invoiceId: invoice.invoiceId,
    });
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({
      paidMinor: 100_000n,
      balanceMinor: 0n,
    });
    expect(await eventRow(db, captured)).toMatchObject({
      status: 'applied',
      paymentId: payments[0]!.id,
      schoolId: invoice.schoolId,
      invoiceId: invoice.invoiceId,
      providerPaymentId: paymentId,
    });
    expect((await eventRow(db, captured)).processedAt).not.toBeNull();
    expect(await eventRow(db, linkPaid)).toMatchObject({ status: 'duplicate', paymentId: payments[0]!.id });
    const link = await db
      .selectFrom('paymentLinks')
      .selectAll()
      .where('providerReference', '=', linkId)
      .executeTakeFirstOrThrow();
    expect(link.status).toBe('paid');

    // Audited as the payments worker, with no user.
    const audit = await db
      .selectFrom('auditLog')
      .selectAll()
      .where('entityId', '=', payments[0]!.id)
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'payment.create',
      actorId: null,
      actorRole: 'system:payments-worker',
    });
  });

  it('applies checkout.session.completed and payment_intent.succeeded of one Stripe payment once, in upper-case currency', async () => {
    const invoice = await invoiceFor(db, 50_000n);
    const intentId = providerId('pi');
    const session = await storeEvent(
      db,
      'stripe',
      stripeSessionCompleted({
        eventId: providerId('evt'),
        sessionId: providerId('cs_test'),
        paymentIntentId: intentId,
        amountMinor: 50_000n,
        metadata: notesOf(invoice),
      }),
    );
    const intent = await storeEvent(
      db,
      'stripe',
      stripeIntentSucceeded({
        eventId: providerId('evt'),
        paymentIntentId: intentId,
        amountMinor: 50_000n,
        metadata: notesOf(invoice),
      }),
    );
    // Out of order: the intent event first.
    await apply(intent);
    await apply(session);
    const payments = await paymentsOf(db, intentId);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ provider: 'stripe', currency: 'INR', amountMinor: 50_000n });
    expect((await eventRow(db, intent)).status).toBe('applied');
    expect((await eventRow(db, session)).status).toBe('duplicate');
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({ balanceMinor: 0n });
  });

  it('does nothing when the same event is processed again (a job run twice)', async () => {
    const invoice = await invoiceFor(db, 30_000n);
    const paymentId = providerId('pay');
    const event = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({ paymentId, amountMinor: 20_000n, notes: notesOf(invoice) }),
    );
    expect(await apply(event)).toMatchObject({ status: 'applied' });
    expect(await apply(event)).toMatchObject({ status: 'applied', skipped: true });
    await Promise.all([apply(event), apply(event)]);
    expect(await paymentsOf(db, paymentId)).toHaveLength(1);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({
      paidMinor: 20_000n,
      balanceMinor: 10_000n,
    });
  });

  it('applies ten concurrent events of one payment once, with the balance exact', async () => {
    const invoice = await invoiceFor(db, 100_000n);
    const paymentId = providerId('pay');
    const events = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        storeEvent(
          db,
          'razorpay',
          (index % 2 ? razorpayOrderPaid : razorpayCaptured)({
            paymentId,
            amountMinor: 60_000n,
            notes: notesOf(invoice),
          }),
        ),
      ),
    );
    const results = await Promise.all(events.map((event) => apply(event)));
    expect(results.filter((result) => result.status === 'applied')).toHaveLength(1);
    expect(results.filter((result) => result.status === 'duplicate')).toHaveLength(9);
    const payments = await paymentsOf(db, paymentId);
    expect(payments).toHaveLength(1);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({
      paidMinor: 60_000n,
      balanceMinor: 40_000n,
    });
    const allocations = await db
      .selectFrom('allocations')
      .selectAll()
      .where('paymentId', '=', payments[0]!.id)
      .execute();
    expect(allocations.map((row) => row.amountMinor)).toEqual([60_000n]);
  });

  it('turns a payment beyond the balance into the student credit, once', async () => {
    const invoice = await invoiceFor(db, 10_000n);
    const paymentId = providerId('pay');
    const event = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({ paymentId, amountMinor: 15_000n, notes: notesOf(invoice) }),
    );
    await Promise.all([apply(event), apply(event)]);
    const student = await db
      .selectFrom('students')
      .select('creditMinor')
      .where('id', '=', invoice.studentId)
      .executeTakeFirstOrThrow();
    expect(student.creditMinor).toBe(5_000n);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({ balanceMinor: 0n });
  });

  it('records a failed payment without touching the ledger', async () => {
    const invoice = await invoiceFor(db, 10_000n);
    const paymentId = providerId('pay');
    const body = JSON.stringify({
      entity: 'event',
      account_id: 'acc_TestAccount01',
      event: 'payment.failed',
      contains: ['payment'],
      payload: {
        payment: {
          entity: {
            id: paymentId,
            entity: 'payment',
            amount: 10_000,
            currency: 'INR',
            status: 'failed',
            notes: notesOf(invoice),
            error_code: 'BAD_REQUEST_ERROR',
            error_description: 'Payment was declined',
          },
        },
      },
      created_at: Math.floor(Date.now() / 1000),
    });
    const event = await storeEvent(db, 'razorpay', { type: 'payment.failed', body });
    await apply(event);
    expect(await eventRow(db, event)).toMatchObject({
      status: 'recorded',
      detail: 'payment failed: BAD_REQUEST_ERROR: Payment was declined',
      providerPaymentId: paymentId,
    });
    expect(await paymentsOf(db, paymentId)).toHaveLength(0);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({ paidMinor: 0n });
  });

  it('marks an unreadable body and fails it as unrecoverable', async () => {
    const event = await storeEvent(db, 'razorpay', {
      type: 'payment.captured',
      body: '{"event":"payment.captured","payload":{}}',
    });
    await expect(apply(event)).rejects.toBeInstanceOf(UnrecoverableError);
    const row = await eventRow(db, event);
    expect(row.status).toBe('recorded');
    expect(row.detail).toMatch(/^unreadable: Razorpay payment.captured event: payload.payment.entity/);
  });

  it('fails as unrecoverable for an event row that does not exist', async () => {
    await expect(apply('3f2b1c4d-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(UnrecoverableError);
  });
});

describe('provider refunds', () => {
  it('refunds a payment once per provider refund id, and records one that exceeds what is left', async () => {
    const invoice = await invoiceFor(db, 40_000n);
    const paymentId = providerId('pay');
    await apply(
      await storeEvent(
        db,
        'razorpay',
        razorpayCaptured({ paymentId, amountMinor: 40_000n, notes: notesOf(invoice) }),
      ),
    );
    const refundId = providerId('rfnd');
    const first = await storeEvent(
      db,
      'razorpay',
      razorpayRefund({ refundId, paymentId, amountMinor: 15_000n }),
    );
    const again = await storeEvent(
      db,
      'razorpay',
      razorpayRefund({ refundId, paymentId, amountMinor: 15_000n }),
    );
    await Promise.all([apply(first), apply(again)]);
    const statuses = [(await eventRow(db, first)).status, (await eventRow(db, again)).status].sort();
    expect(statuses).toEqual(['duplicate', 'refunded']);
    const refunds = await db
      .selectFrom('refunds')
      .selectAll()
      .where('providerRefundId', '=', refundId)
      .execute();
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ provider: 'razorpay', amountMinor: 15_000n });
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({
      refundedMinor: 15_000n,
      balanceMinor: 15_000n,
    });

    const tooMuch = await storeEvent(
      db,
      'razorpay',
      razorpayRefund({ refundId: providerId('rfnd'), paymentId, amountMinor: 30_000n }),
    );
    await apply(tooMuch);
    expect(await eventRow(db, tooMuch)).toMatchObject({ status: 'recorded' });
    expect((await eventRow(db, tooMuch)).detail).toContain('left to refund');
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({ refundedMinor: 15_000n });
  });

  it('records each refund of a Stripe charge once, however often charge.refunded reports it', async () => {
    const invoice = await invoiceFor(db, 90_000n);
    const intentId = providerId('pi');
    await apply(
      await storeEvent(
        db,
        'stripe',
        stripeIntentSucceeded({
          eventId: providerId('evt'),
          paymentIntentId: intentId,
          amountMinor: 90_000n,
          metadata: notesOf(invoice),
        }),
      ),
    );
    const chargeRefunded = (refunds: { id: string; amount: number }[]) => ({
      type: 'charge.refunded',
      body: JSON.stringify({
        id: providerId('evt'),
        object: 'event',
        type: 'charge.refunded',
        created: Math.floor(Date.now() / 1000),
        api_version: '2024-06-20',
        livemode: false,
        data: {
          object: {
            id: `ch_${intentId.slice(3)}`,
            object: 'charge',
            amount: 90_000,
            amount_refunded: refunds.reduce((sum, refund) => sum + refund.amount, 0),
            currency: 'inr',
            payment_intent: intentId,
            metadata: notesOf(invoice),
            refunds: {
              object: 'list',
              data: refunds.map((refund) => ({
                ...refund,
                currency: 'inr',
                status: 'succeeded',
                payment_intent: intentId,
              })),
            },
          },
        },
      }),
    });
    const first = await storeEvent(db, 'stripe', chargeRefunded([{ id: providerId('re'), amount: 10_000 }]));
    await apply(first);
    const firstRefund = (
      JSON.parse((await eventRow(db, first)).body.toString()) as {
        data: { object: { refunds: { data: { id: string }[] } } };
      }
    ).data.object.refunds.data[0]!.id;
    // Stripe lists every refund of the charge so far: the first again, and a new one.
    const second = await storeEvent(
      db,
      'stripe',
      chargeRefunded([
        { id: providerId('re'), amount: 25_000 },
        { id: firstRefund, amount: 10_000 },
      ]),
    );
    await apply(second);
    const again = await storeEvent(db, 'stripe', chargeRefunded([{ id: firstRefund, amount: 10_000 }]));
    await apply(again);
    expect([
      (await eventRow(db, first)).status,
      (await eventRow(db, second)).status,
      (await eventRow(db, again)).status,
    ]).toEqual(['refunded', 'refunded', 'duplicate']);
    const refunds = await db
      .selectFrom('refunds')
      .select('amountMinor')
      .where('provider', '=', 'stripe')
      .where('paymentId', '=', (await paymentsOf(db, intentId))[0]!.id)
      .execute();
    expect(refunds.map((row) => row.amountMinor).sort()).toEqual([10_000n, 25_000n]);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({
      refundedMinor: 35_000n,
      balanceMinor: 35_000n,
    });
  });

  it('makes a refund that arrives before its capture wait (the job retries) and ends with the right balance', async () => {
    startWorker();
    const invoice = await invoiceFor(db, 80_000n);
    const paymentId = providerId('pay');
    const refund = await storeEvent(
      db,
      'razorpay',
      razorpayRefund({ refundId: providerId('rfnd'), paymentId, amountMinor: 30_000n }),
    );
    void relay.kick();
    // The first attempt finds no payment and fails, to retry with the job's backoff.
    const queue = new Queue(applyPaymentEvent.queue, { connection: producer, prefix });
    afterAll(() => queue.close());
    await until(
      'the refund job to fail once',
      () => queue.getJob(`payment-event.${refund}`),
      (job) => Boolean(job && job.attemptsMade >= 1),
    );
    expect((await eventRow(db, refund)).status).toBe('received');

    const capture = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({ paymentId, amountMinor: 80_000n, notes: notesOf(invoice) }),
    );
    void relay.kick();
    await until(
      'both events to be processed',
      async () => [(await eventRow(db, capture)).status, (await eventRow(db, refund)).status],
      (statuses) => statuses[0] === 'applied' && statuses[1] === 'refunded',
    );
    expect(await paymentsOf(db, paymentId)).toHaveLength(1);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({
      paidMinor: 80_000n,
      refundedMinor: 30_000n,
      balanceMinor: 30_000n,
    });
  });
});

describe('the reconciliation inbox', () => {
  async function unmatched(
    notes: Record<string, unknown> | unknown[],
    options: { amountMinor?: bigint; currency?: string } = {},
  ) {
    const paymentId = providerId('pay');
    const event = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({
        paymentId,
        amountMinor: options.amountMinor ?? 25_000n,
        currency: options.currency,
        notes,
      }),
    );
    await apply(event);
    const item = await db
      .selectFrom('reconciliationItems')
      .selectAll()
      .where('eventId', '=', event)
      .executeTakeFirst();
    return { paymentId, event, item };
  }

  it.each([
    [
      'unknown_invoice',
      async () => ({
        invoiceId: '0e8c7d1a-1111-4222-8333-444455556666',
        schoolId: (await invoiceFor(db)).schoolId,
      }),
    ],
    [
      'school_mismatch',
      async () => ({ ...notesOf(await invoiceFor(db)), schoolId: (await invoiceFor(db)).schoolId }),
    ],
    ['no_reference', async () => []],
    ['currency_mismatch', async () => notesOf(await invoiceFor(db, 10_000n, { currency: 'USD' }))],
    [
      'invoice_void',
      async () => {
        const invoice = await invoiceFor(db);
        await db
          .transaction()
          .execute((trx) => voidInvoice(trx, invoice.schoolId, invoice.invoiceId, 'issued twice'));
        return notesOf(invoice);
      },
    ],
  ] as const)('sends %s to reconciliation, never to the ledger', async (reason, notes) => {
    const { paymentId, event, item } = await unmatched(await notes());
    expect(item).toMatchObject({
      reason,
      status: 'open',
      providerPaymentId: paymentId,
      amountMinor: 25_000n,
      provider: 'razorpay',
    });
    expect(await eventRow(db, event)).toMatchObject({
      status: 'reconciliation',
      providerPaymentId: paymentId,
      paymentId: null,
    });
    expect(await paymentsOf(db, paymentId)).toHaveLength(0);
    const audit = await db.selectFrom('auditLog').selectAll().where('entityId', '=', item!.id).execute();
    expect(audit).toMatchObject([{ action: 'reconciliation.create', actorRole: 'system:payments-worker' }]);
  });

  it('sends an amount beyond what Bursar holds to reconciliation', async () => {
    const invoice = await invoiceFor(db);
    const { item, paymentId } = await unmatched(notesOf(invoice), { amountMinor: 10_000_000_000_001n });
    expect(item).toMatchObject({ reason: 'amount_out_of_range', schoolId: invoice.schoolId });
    expect(await paymentsOf(db, paymentId)).toHaveLength(0);
  });

  it('keeps a school_mismatch item for platform admins only (no school) and an unknown invoice with the named school', async () => {
    const a = await invoiceFor(db);
    const b = await invoiceFor(db);
    const mismatch = await unmatched({ ...notesOf(a), schoolId: b.schoolId });
    expect(mismatch.item?.schoolId).toBeNull();
    const unknown = await unmatched({
      invoiceId: '0e8c7d1a-1111-4222-8333-444455556667',
      schoolId: a.schoolId,
    });
    expect(unknown.item?.schoolId).toBe(a.schoolId);
  });

  it('closes an item automatically when another event of the same payment applies it', async () => {
    const invoice = await invoiceFor(db, 70_000n);
    const linkId = await storedRazorpayLink(db, invoice, 70_000n);
    // The capture carries no notes; the link event names the link Bursar created.
    const { paymentId, event, item } = await unmatched([], { amountMinor: 70_000n });
    expect(item?.reason).toBe('no_reference');
    const linkPaid = await storeEvent(
      db,
      'razorpay',
      razorpayLinkPaid({ paymentId, linkId, amountMinor: 70_000n, notes: [] }),
    );
    await apply(linkPaid);
    const payments = await paymentsOf(db, paymentId);
    expect(payments).toHaveLength(1);
    expect(await eventRow(db, linkPaid)).toMatchObject({ status: 'applied', paymentId: payments[0]!.id });
    const closed = await db
      .selectFrom('reconciliationItems')
      .selectAll()
      .where('id', '=', item!.id)
      .executeTakeFirstOrThrow();
    expect(closed).toMatchObject({
      status: 'matched',
      paymentId: payments[0]!.id,
      matchedInvoiceId: invoice.invoiceId,
    });
    expect(await eventRow(db, event)).toMatchObject({ status: 'duplicate', paymentId: payments[0]!.id });
  });

  it('matches an item to an invoice exactly once, within its school and currency', async () => {
    const invoice = await invoiceFor(db, 25_000n);
    const { paymentId, event, item } = await unmatched({ schoolId: invoice.schoolId });
    expect(item).toMatchObject({ reason: 'no_reference', schoolId: invoice.schoolId });
    const other = await invoiceFor(db);
    const match = (invoiceId: string, scope: string | null = invoice.schoolId) =>
      db
        .transaction()
        .execute((trx) =>
          matchReconciliationItem(trx, { itemId: item!.id, scope, invoiceId, resolvedBy: null }),
        );

    await expect(match(invoice.invoiceId, other.schoolId)).rejects.toMatchObject({ code: 'not_found' });
    await expect(match(other.invoiceId)).rejects.toMatchObject({ code: 'not_found' });
    // Money in dollars cannot be put on a rupee invoice, even by hand.
    const dollars = await unmatched(notesOf(invoice), { currency: 'USD' });
    expect(dollars.item?.reason).toBe('currency_mismatch');
    await expect(
      db.transaction().execute((trx) =>
        matchReconciliationItem(trx, {
          itemId: dollars.item!.id,
          scope: invoice.schoolId,
          invoiceId: invoice.invoiceId,
          resolvedBy: null,
        }),
      ),
    ).rejects.toMatchObject({ code: 'validation_failed' });

    const results = await Promise.allSettled([match(invoice.invoiceId), match(invoice.invoiceId)]);
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    expect(fulfilled).toHaveLength(1);
    expect(results.find((result) => result.status === 'rejected')).toMatchObject({
      reason: { code: 'conflict' },
    });
    const payments = await paymentsOf(db, paymentId);
    expect(payments).toHaveLength(1);
    expect(fulfilled[0]!.value.paymentId).toBe(payments[0]!.id);
    expect(await invoiceMoney(db, invoice.invoiceId)).toMatchObject({ balanceMinor: 0n });
    expect(
      await db
        .selectFrom('reconciliationItems')
        .selectAll()
        .where('id', '=', item!.id)
        .executeTakeFirstOrThrow(),
    ).toMatchObject({
      status: 'matched',
      paymentId: payments[0]!.id,
      matchedInvoiceId: invoice.invoiceId,
    });
    expect(await eventRow(db, event)).toMatchObject({ status: 'applied', paymentId: payments[0]!.id });

    // The same payment reported again later is a duplicate, not a second payment.
    const again = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({ paymentId, amountMinor: 25_000n, notes: [] }),
    );
    await apply(again);
    expect((await eventRow(db, again)).status).toBe('duplicate');
    expect(await paymentsOf(db, paymentId)).toHaveLength(1);
    expect(
      await db
        .selectFrom('reconciliationItems')
        .select('id')
        .where('providerPaymentId', '=', paymentId)
        .execute(),
    ).toHaveLength(1);
  });

  it('lets a platform admin (no scope) place an item no school owns, and gives it that school', async () => {
    const { item, paymentId } = await unmatched([]);
    expect(item?.schoolId).toBeNull();
    const invoice = await invoiceFor(db, 25_000n);
    await expect(
      db.transaction().execute((trx) =>
        matchReconciliationItem(trx, {
          itemId: item!.id,
          scope: invoice.schoolId,
          invoiceId: invoice.invoiceId,
          resolvedBy: null,
        }),
      ),
    ).rejects.toMatchObject({ code: 'not_found' });
    await db.transaction().execute((trx) =>
      matchReconciliationItem(trx, {
        itemId: item!.id,
        scope: null,
        invoiceId: invoice.invoiceId,
        resolvedBy: null,
      }),
    );
    expect(await paymentsOf(db, paymentId)).toHaveLength(1);
    expect(
      (
        await db
          .selectFrom('reconciliationItems')
          .select('schoolId')
          .where('id', '=', item!.id)
          .executeTakeFirstOrThrow()
      ).schoolId,
    ).toBe(invoice.schoolId);
  });

  it('dismisses an item only with a reason, and never touches the ledger', async () => {
    const invoice = await invoiceFor(db);
    const { item, paymentId } = await unmatched({ schoolId: invoice.schoolId });
    const dismiss = (reason: string) =>
      db.transaction().execute((trx) =>
        dismissReconciliationItem(trx, {
          itemId: item!.id,
          scope: invoice.schoolId,
          reason,
          resolvedBy: null,
        }),
      );
    await expect(dismiss('  ')).rejects.toMatchObject({ code: 'validation_failed' });
    await dismiss('Paid twice by the guardian; refunded at the bank');
    expect(
      await db
        .selectFrom('reconciliationItems')
        .selectAll()
        .where('id', '=', item!.id)
        .executeTakeFirstOrThrow(),
    ).toMatchObject({
      status: 'dismissed',
      dismissReason: 'Paid twice by the guardian; refunded at the bank',
    });
    await expect(dismiss('again')).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      db.transaction().execute((trx) =>
        matchReconciliationItem(trx, {
          itemId: item!.id,
          scope: invoice.schoolId,
          invoiceId: invoice.invoiceId,
          resolvedBy: null,
        }),
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(await paymentsOf(db, paymentId)).toHaveLength(0);
  });
});
