import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { signStripeWebhook, verifyStripeWebhook } from './webhook.js';

const SECRET = 'whsec_current';
const OLD_SECRET = 'whsec_previous';
const stripe = new Stripe('sk_test_oracle');
const TOLERANCE = { toleranceSeconds: 300 };

function body(id = 'evt_1', type = 'checkout.session.completed'): Buffer {
  return Buffer.from(
    `{"id":"${id}","object":"event","type":"${type}", "created":${Math.floor(Date.now() / 1000)},` +
      `"livemode":false,"data":{"object":{"id":"cs_test_1","metadata":{"invoiceNumber":"INV-€-1"}}}}`,
  );
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('Stripe webhook signatures', () => {
  it('accepts headers made by the official stripe package, with their identity', () => {
    const raw = body('evt_oracle', 'payment_intent.succeeded');
    const header = stripe.webhooks.generateTestHeaderString({
      payload: raw.toString('utf8'),
      secret: SECRET,
      timestamp: nowSeconds(),
    });
    expect(verifyStripeWebhook(raw, { 'stripe-signature': header }, [SECRET], TOLERANCE)).toEqual({
      ok: true,
      identity: { eventId: 'evt_oracle', type: 'payment_intent.succeeded' },
    });
  });

  it('signs what the official stripe package verifies', () => {
    const raw = body('evt_signed');
    const header = signStripeWebhook(raw, SECRET, nowSeconds());
    const event = stripe.webhooks.constructEvent(raw.toString('utf8'), header, SECRET, 300);
    expect(event.id).toBe('evt_signed');
    expect(() => stripe.webhooks.constructEvent(raw.toString('utf8'), header, OLD_SECRET, 300)).toThrow();
  });

  it('accepts any v1 against any secret, and ignores other schemes', () => {
    const raw = body();
    const t = nowSeconds();
    const oldSig = signStripeWebhook(raw, OLD_SECRET, t).split(',')[1]!;
    const newSig = signStripeWebhook(raw, SECRET, t).split(',')[1]!;
    const junk = `v1=${'0'.repeat(64)}`;
    const header = `t=${t},v0=deadbeef,${junk},${oldSig}`;
    expect(verifyStripeWebhook(raw, { 'stripe-signature': header }, [SECRET, OLD_SECRET], TOLERANCE).ok).toBe(
      true,
    );
    expect(
      verifyStripeWebhook(raw, { 'stripe-signature': `t=${t},${newSig}` }, [SECRET, OLD_SECRET], TOLERANCE)
        .ok,
    ).toBe(true);
    expect(verifyStripeWebhook(raw, { 'stripe-signature': header }, [SECRET], TOLERANCE)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('refuses a stale timestamp and one too far in the future, judged by the given clock', () => {
    const raw = body();
    const t = nowSeconds();
    const header = { 'stripe-signature': signStripeWebhook(raw, SECRET, t) };
    const at = (offsetSeconds: number) => ({
      toleranceSeconds: 300,
      now: new Date((t + offsetSeconds) * 1000),
    });
    expect(verifyStripeWebhook(raw, header, [SECRET], at(299)).ok).toBe(true);
    expect(verifyStripeWebhook(raw, header, [SECRET], at(301))).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verifyStripeWebhook(raw, header, [SECRET], at(-301))).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    // The official package agrees that it is stale.
    const stale = stripe.webhooks.generateTestHeaderString({
      payload: raw.toString('utf8'),
      secret: SECRET,
      timestamp: t - 600,
    });
    expect(() => stripe.webhooks.constructEvent(raw.toString('utf8'), stale, SECRET, 300)).toThrow();
    expect(verifyStripeWebhook(raw, { 'stripe-signature': stale }, [SECRET], TOLERANCE)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
  });

  it('refuses a tampered body, a missing header and garbage headers', () => {
    const raw = body();
    const header = signStripeWebhook(raw, SECRET, nowSeconds());
    const tampered = Buffer.from(raw.toString('utf8').replace('INV-€-1', 'INV-€-9'));
    expect(verifyStripeWebhook(tampered, { 'stripe-signature': header }, [SECRET], TOLERANCE)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyStripeWebhook(raw, {}, [SECRET], TOLERANCE)).toEqual({
      ok: false,
      reason: 'missing_header',
    });
    for (const garbage of [
      'garbage',
      't=abc,v1=00',
      `v1=${'a'.repeat(64)}`,
      't=1',
      `t=1,v1=${'a'.repeat(63)}`,
    ]) {
      expect(verifyStripeWebhook(raw, { 'stripe-signature': garbage }, [SECRET], TOLERANCE)).toEqual({
        ok: false,
        reason: 'malformed_header',
      });
    }
  });
});
