import { randomUUID } from 'node:crypto';
import Razorpay from 'razorpay';
import { describe, expect, it } from 'vitest';
import { signRazorpayWebhook, verifyRazorpayWebhook } from './webhook.js';

const SECRET = 'rzp_webhook_secret_current';
const OLD_SECRET = 'rzp_webhook_secret_previous';

// Non-ASCII and odd spacing: the signature is over these exact bytes, not over re-serialised JSON.
function body(event = 'payment.captured'): Buffer {
  return Buffer.from(
    `{"entity":"event","account_id":"acc_X","event":"${event}",  "contains":["payment"],` +
      `"payload":{"payment":{"entity":{"id":"pay_${randomUUID().slice(0, 8)}","notes":{"invoiceNumber":"INV-₹-1"}}}},` +
      `"created_at":${Math.floor(Date.now() / 1000)}}`,
  );
}

function headers(raw: Buffer, secret = SECRET, eventId = `evt_${randomUUID()}`) {
  return { 'x-razorpay-signature': signRazorpayWebhook(raw, secret), 'x-razorpay-event-id': eventId };
}

describe('Razorpay webhook signatures', () => {
  it('signs exactly as the official razorpay package verifies', () => {
    const raw = body();
    const signature = signRazorpayWebhook(raw, SECRET);
    expect(Razorpay.validateWebhookSignature(raw.toString('utf8'), signature, SECRET)).toBe(true);
    expect(Razorpay.validateWebhookSignature(raw.toString('utf8'), signature, OLD_SECRET)).toBe(false);
  });

  it('accepts what the official package accepts and reads the identity from header and body', () => {
    const raw = body('order.paid');
    const h = headers(raw, SECRET, 'evt_identity_1');
    expect(Razorpay.validateWebhookSignature(raw.toString('utf8'), h['x-razorpay-signature'], SECRET)).toBe(
      true,
    );
    expect(verifyRazorpayWebhook(raw, h, [SECRET])).toEqual({
      ok: true,
      identity: { eventId: 'evt_identity_1', type: 'order.paid' },
    });
  });

  it('verifies with the old and with the new secret during a rotation', () => {
    const raw = body();
    expect(verifyRazorpayWebhook(raw, headers(raw, OLD_SECRET), [SECRET, OLD_SECRET]).ok).toBe(true);
    expect(verifyRazorpayWebhook(raw, headers(raw, SECRET), [SECRET, OLD_SECRET]).ok).toBe(true);
  });

  it('refuses a tampered body, a wrong secret, a missing or garbage header', () => {
    const raw = body();
    const h = headers(raw);
    const tampered = Buffer.from(raw.toString('utf8').replace('INV-₹-1', 'INV-₹-2'));
    expect(verifyRazorpayWebhook(tampered, h, [SECRET])).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyRazorpayWebhook(raw, headers(raw, 'wrong'), [SECRET])).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyRazorpayWebhook(raw, { 'x-razorpay-event-id': 'evt_1' }, [SECRET])).toEqual({
      ok: false,
      reason: 'missing_header',
    });
    for (const garbage of [
      'zz',
      'abc',
      h['x-razorpay-signature'].slice(1),
      `${h['x-razorpay-signature']}00`,
    ]) {
      expect(verifyRazorpayWebhook(raw, { ...h, 'x-razorpay-signature': garbage }, [SECRET])).toEqual({
        ok: false,
        reason: 'malformed_header',
      });
    }
  });

  it('refuses a signed delivery without the event id it would be deduplicated on', () => {
    const raw = body();
    const { 'x-razorpay-signature': signature } = headers(raw);
    expect(verifyRazorpayWebhook(raw, { 'x-razorpay-signature': signature }, [SECRET]).ok).toBe(false);
  });

  it('stores a signed body that is not JSON as type unknown rather than refusing it', () => {
    const raw = Buffer.from('not json');
    expect(verifyRazorpayWebhook(raw, headers(raw, SECRET, 'evt_x'), [SECRET])).toEqual({
      ok: true,
      identity: { eventId: 'evt_x', type: 'unknown' },
    });
  });
});
