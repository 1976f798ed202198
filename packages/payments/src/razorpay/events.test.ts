import { describe, expect, it } from 'vitest';
import { parseRazorpayEvent } from './events.js';

const invoiceId = '7d0c1e3a-3b0a-4f44-9a43-5c1f0f6a2b10';
const schoolId = '0b4f6a58-2f0e-4a5e-8f33-2a9d3c1e7f21';
const notes = { invoiceId, schoolId, invoiceNumber: 'INV-000042' };
const created = Math.floor(Date.now() / 1000) - 60;

function paymentEntity(overrides: Record<string, unknown> = {}) {
  return {
    id: 'pay_Q1w2e3r4t5y6u7',
    entity: 'payment',
    amount: 125_000,
    currency: 'INR',
    status: 'captured',
    order_id: 'order_Q1w2e3r4t5y6',
    method: 'upi',
    captured: true,
    notes,
    fee: 2950,
    created_at: created - 5,
    ...overrides,
  };
}

function event(type: string, payload: Record<string, unknown>) {
  return Buffer.from(
    JSON.stringify({
      entity: 'event',
      account_id: 'acc_BFQ7uQEaa7j2z7',
      event: type,
      contains: Object.keys(payload),
      payload,
      created_at: created,
    }),
  );
}

describe('parseRazorpayEvent', () => {
  it('reads payment.captured as a payment in paise with its notes and event time', () => {
    const [fact] = parseRazorpayEvent(event('payment.captured', { payment: { entity: paymentEntity() } }));
    expect(fact).toEqual({
      kind: 'payment',
      provider: 'razorpay',
      providerPaymentId: 'pay_Q1w2e3r4t5y6u7',
      amountMinor: 125_000n,
      currency: 'INR',
      paidAt: new Date(created * 1000),
      notes,
    });
  });

  it('gives payment.captured and payment_link.paid of one payment the same payment id, the link as reference', () => {
    const captured = parseRazorpayEvent(event('payment.captured', { payment: { entity: paymentEntity() } }));
    const linkPaid = parseRazorpayEvent(
      event('payment_link.paid', {
        payment_link: {
          entity: {
            id: 'plink_Q9a8s7d6f5g4',
            entity: 'payment_link',
            amount: 125_000,
            amount_paid: 125_000,
            currency: 'INR',
            notes,
            status: 'paid',
            reference_id: invoiceId,
          },
        },
        order: {
          entity: { id: 'order_Q1w2e3r4t5y6', amount: 125_000, amount_paid: 125_000, notes, status: 'paid' },
        },
        // Razorpay leaves the payment's own notes empty for link payments: [] is how it says so.
        payment: { entity: paymentEntity({ notes: [] }) },
      }),
    );
    expect(linkPaid[0]).toMatchObject({
      kind: 'payment',
      providerPaymentId: 'pay_Q1w2e3r4t5y6u7',
      providerReference: 'plink_Q9a8s7d6f5g4',
      notes,
    });
    expect(captured[0]).toMatchObject({ providerPaymentId: 'pay_Q1w2e3r4t5y6u7' });
    expect(captured[0]).not.toHaveProperty('providerReference');
  });

  it('reads order.paid with the order notes when the payment has none', () => {
    const [fact] = parseRazorpayEvent(
      event('order.paid', {
        order: {
          entity: { id: 'order_A', amount: 500, amount_paid: 500, currency: 'INR', notes, status: 'paid' },
        },
        payment: { entity: paymentEntity({ amount: 500, notes: [] }) },
      }),
    );
    expect(fact).toMatchObject({ kind: 'payment', amountMinor: 500n, notes });
  });

  it('prefers notes that name the invoice over notes with other keys only', () => {
    const [fact] = parseRazorpayEvent(
      event('order.paid', {
        order: { entity: { id: 'order_B', amount: 500, amount_paid: 500, notes, status: 'paid' } },
        payment: { entity: paymentEntity({ amount: 500, notes: { purpose: 'fees' } }) },
      }),
    );
    expect(fact).toMatchObject({ notes });
  });

  it('treats notes given as [] as no notes, and drops values that are not strings', () => {
    const [empty] = parseRazorpayEvent(
      event('payment.captured', { payment: { entity: paymentEntity({ notes: [] }) } }),
    );
    expect(empty).toMatchObject({ notes: {} });
    const [mixed] = parseRazorpayEvent(
      event('payment.captured', {
        payment: { entity: paymentEntity({ notes: { invoiceId: 42, schoolId, extra: 'x' } }) },
      }),
    );
    expect(mixed).toMatchObject({ notes: { schoolId } });
    expect((mixed as { notes: object }).notes).not.toHaveProperty('invoiceId');
  });

  it('upper-cases the currency', () => {
    const [fact] = parseRazorpayEvent(
      event('payment.captured', { payment: { entity: paymentEntity({ currency: 'inr' }) } }),
    );
    expect(fact).toMatchObject({ currency: 'INR' });
  });

  it('reads payment.failed as a failure with its reason', () => {
    expect(
      parseRazorpayEvent(
        event('payment.failed', {
          payment: {
            entity: paymentEntity({
              status: 'failed',
              error_code: 'BAD_REQUEST_ERROR',
              error_description: 'Payment failed because the card was declined',
            }),
          },
        }),
      ),
    ).toEqual([
      {
        kind: 'failed',
        provider: 'razorpay',
        providerPaymentId: 'pay_Q1w2e3r4t5y6u7',
        reason: 'BAD_REQUEST_ERROR: Payment failed because the card was declined',
      },
    ]);
  });

  it('reads refund.processed as a refund of its payment', () => {
    expect(
      parseRazorpayEvent(
        event('refund.processed', {
          refund: {
            entity: {
              id: 'rfnd_FP8QHiV938haTz',
              entity: 'refund',
              amount: 20_000,
              currency: 'INR',
              payment_id: 'pay_Q1w2e3r4t5y6u7',
              status: 'processed',
              notes: [],
            },
          },
          payment: { entity: paymentEntity({ amount_refunded: 20_000 }) },
        }),
      ),
    ).toEqual([
      {
        kind: 'refund',
        provider: 'razorpay',
        providerPaymentId: 'pay_Q1w2e3r4t5y6u7',
        providerRefundId: 'rfnd_FP8QHiV938haTz',
        amountMinor: 20_000n,
        currency: 'INR',
      },
    ]);
  });

  it('ignores types Bursar does not act on', () => {
    expect(parseRazorpayEvent(event('payment.authorized', { payment: { entity: paymentEntity() } }))).toEqual(
      [{ kind: 'ignored', provider: 'razorpay', type: 'payment.authorized' }],
    );
  });

  it('throws a clear error for bodies that are not Razorpay events', () => {
    expect(() => parseRazorpayEvent('not json')).toThrow('Razorpay event body is not JSON');
    expect(() => parseRazorpayEvent('{"entity":"event"}')).toThrow(/does not parse/);
    expect(() => parseRazorpayEvent(event('payment.captured', {}))).toThrow(/payload\.payment\.entity/);
    expect(() =>
      parseRazorpayEvent(
        event('payment.captured', { payment: { entity: paymentEntity({ amount: '125000.00' }) } }),
      ),
    ).toThrow(/payload\.payment\.entity/);
  });
});
