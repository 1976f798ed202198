import { describe, expect, it } from 'vitest';
import { parseStripeEvent } from './events.js';

const invoiceId = '7d0c1e3a-3b0a-4f44-9a43-5c1f0f6a2b10';
const schoolId = '0b4f6a58-2f0e-4a5e-8f33-2a9d3c1e7f21';
const metadata = { invoiceId, schoolId, invoiceNumber: 'INV-000042' };
const created = Math.floor(Date.now() / 1000) - 30;

function event(type: string, object: Record<string, unknown>) {
  return Buffer.from(
    JSON.stringify({
      id: `evt_${Math.random().toString(36).slice(2)}`,
      object: 'event',
      type,
      created,
      api_version: '2024-06-20',
      livemode: false,
      pending_webhooks: 1,
      data: { object },
    }),
  );
}

const session = {
  id: 'cs_test_a1B2c3D4e5',
  object: 'checkout.session',
  amount_total: 125_000,
  currency: 'inr',
  metadata,
  client_reference_id: invoiceId,
  payment_intent: 'pi_3PqRsT2eZvKYlo2C',
  payment_status: 'paid',
  status: 'complete',
  mode: 'payment',
};

const intent = {
  id: 'pi_3PqRsT2eZvKYlo2C',
  object: 'payment_intent',
  amount: 125_000,
  amount_received: 125_000,
  currency: 'inr',
  metadata,
  status: 'succeeded',
  latest_charge: 'ch_3PqRsT2eZvKYlo2C',
  created: created - 20,
};

describe('parseStripeEvent', () => {
  it('reads checkout.session.completed as a payment of its PaymentIntent, the session as reference, currency upper case', () => {
    expect(parseStripeEvent(event('checkout.session.completed', session))).toEqual([
      {
        kind: 'payment',
        provider: 'stripe',
        providerPaymentId: 'pi_3PqRsT2eZvKYlo2C',
        amountMinor: 125_000n,
        currency: 'INR',
        paidAt: new Date(created * 1000),
        notes: metadata,
        providerReference: 'cs_test_a1B2c3D4e5',
      },
    ]);
  });

  it('gives payment_intent.succeeded the same payment id as the session event', () => {
    const [fromIntent] = parseStripeEvent(event('payment_intent.succeeded', intent));
    const [fromSession] = parseStripeEvent(event('checkout.session.completed', session));
    expect(fromIntent).toMatchObject({
      kind: 'payment',
      providerPaymentId: 'pi_3PqRsT2eZvKYlo2C',
      amountMinor: 125_000n,
      currency: 'INR',
      notes: metadata,
    });
    expect(fromIntent).not.toHaveProperty('providerReference');
    expect((fromSession as { providerPaymentId: string }).providerPaymentId).toBe(
      (fromIntent as { providerPaymentId: string }).providerPaymentId,
    );
  });

  it('uses amount_received, not amount, for a PaymentIntent', () => {
    const [fact] = parseStripeEvent(
      event('payment_intent.succeeded', { ...intent, amount_received: 100_000 }),
    );
    expect(fact).toMatchObject({ amountMinor: 100_000n });
  });

  it('drops metadata values that are not strings, and reads no metadata as none', () => {
    const [fact] = parseStripeEvent(
      event('payment_intent.succeeded', { ...intent, metadata: { invoiceId: 7, schoolId } }),
    );
    expect(fact).toMatchObject({ notes: { schoolId } });
    const [bare] = parseStripeEvent(event('payment_intent.succeeded', { ...intent, metadata: {} }));
    expect(bare).toMatchObject({ notes: {} });
  });

  it('ignores a completed session that is not paid yet', () => {
    expect(
      parseStripeEvent(event('checkout.session.completed', { ...session, payment_status: 'unpaid' })),
    ).toEqual([{ kind: 'ignored', provider: 'stripe', type: 'checkout.session.completed' }]);
  });

  it('reads charge.refunded as one refund per refund of the charge', () => {
    const facts = parseStripeEvent(
      event('charge.refunded', {
        id: 'ch_3PqRsT2eZvKYlo2C',
        object: 'charge',
        amount: 125_000,
        amount_refunded: 50_000,
        currency: 'inr',
        payment_intent: 'pi_3PqRsT2eZvKYlo2C',
        metadata,
        refunds: {
          object: 'list',
          has_more: false,
          data: [
            {
              id: 're_2',
              amount: 30_000,
              currency: 'inr',
              status: 'succeeded',
              payment_intent: 'pi_3PqRsT2eZvKYlo2C',
            },
            {
              id: 're_1',
              amount: 20_000,
              currency: 'inr',
              status: 'succeeded',
              payment_intent: 'pi_3PqRsT2eZvKYlo2C',
            },
          ],
        },
      }),
    );
    expect(facts).toEqual([
      {
        kind: 'refund',
        provider: 'stripe',
        providerPaymentId: 'pi_3PqRsT2eZvKYlo2C',
        providerRefundId: 're_2',
        amountMinor: 30_000n,
        currency: 'INR',
      },
      {
        kind: 'refund',
        provider: 'stripe',
        providerPaymentId: 'pi_3PqRsT2eZvKYlo2C',
        providerRefundId: 're_1',
        amountMinor: 20_000n,
        currency: 'INR',
      },
    ]);
  });

  it('ignores types Bursar does not act on', () => {
    expect(parseStripeEvent(event('checkout.session.expired', { ...session, status: 'expired' }))).toEqual([
      { kind: 'ignored', provider: 'stripe', type: 'checkout.session.expired' },
    ]);
  });

  it('throws a clear error for bodies that are not Stripe events', () => {
    expect(() => parseStripeEvent('<html>')).toThrow('Stripe event body is not JSON');
    expect(() => parseStripeEvent('{"object":"event"}')).toThrow(/Stripe event does not parse/);
    expect(() => parseStripeEvent(event('payment_intent.succeeded', { id: 'pi_1' }))).toThrow(
      /payment_intent\.succeeded event: data\.object/,
    );
  });
});
