import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signMetaWebhook, verifyMetaHandshake, verifyMetaSignature } from './webhook.js';

const SECRET = 'meta_app_secret_current';
const OLD_SECRET = 'meta_app_secret_previous';

// Non-ASCII and odd spacing: the signature is over these exact bytes, not over re-serialised JSON.
const raw = Buffer.from(
  '{"object":"whatsapp_business_account",  "entry":[{"id":"1","changes":[{"field":"messages",' +
    '"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100001","phone_number_id":"1"},' +
    '"messages":[{"from":"919876543210","id":"wamid.x","timestamp":"1700000000","type":"text","text":{"body":"शुल्क ₹ STOP"}}]}}]}]}',
);

/** What Meta sends, computed independently of the code under test. */
const metaHeader = (body: Buffer, secret: string) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('verifyMetaSignature', () => {
  it('accepts the header Meta sends, and signs exactly as Meta does', () => {
    expect(signMetaWebhook(raw, SECRET)).toBe(metaHeader(raw, SECRET));
    expect(verifyMetaSignature(raw, metaHeader(raw, SECRET), [SECRET])).toBe(true);
    expect(
      verifyMetaSignature(raw, metaHeader(raw, SECRET).toUpperCase().replace('SHA256=', 'sha256='), [SECRET]),
    ).toBe(true);
  });

  it('refuses a tampered body and a wrong secret', () => {
    const header = metaHeader(raw, SECRET);
    const tampered = Buffer.from(raw.toString('utf8').replace('STOP', 'STAY'));
    expect(verifyMetaSignature(tampered, header, [SECRET])).toBe(false);
    expect(verifyMetaSignature(raw, metaHeader(raw, 'wrong'), [SECRET])).toBe(false);
    // The same text re-serialised is not the bytes Meta signed.
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8'))));
    expect(verifyMetaSignature(reserialised, header, [SECRET])).toBe(false);
  });

  it('verifies with either secret during a rotation, and with neither when none is configured', () => {
    expect(verifyMetaSignature(raw, metaHeader(raw, OLD_SECRET), [SECRET, OLD_SECRET])).toBe(true);
    expect(verifyMetaSignature(raw, metaHeader(raw, SECRET), [SECRET, OLD_SECRET])).toBe(true);
    expect(verifyMetaSignature(raw, metaHeader(raw, OLD_SECRET), [SECRET])).toBe(false);
    expect(verifyMetaSignature(raw, metaHeader(raw, SECRET), [])).toBe(false);
    expect(verifyMetaSignature(raw, metaHeader(raw, ''), [''])).toBe(false);
  });

  it('refuses a missing or malformed header', () => {
    const good = metaHeader(raw, SECRET);
    const hex = good.slice('sha256='.length);
    for (const header of [
      undefined,
      '',
      hex,
      `sha1=${hex}`,
      `sha256=${hex.slice(1)}`,
      `sha256=${hex}00`,
      `sha256=${'z'.repeat(64)}`,
      `sha256= ${hex}`,
      'sha256=',
    ]) {
      expect(verifyMetaSignature(raw, header, [SECRET])).toBe(false);
    }
  });
});

describe('verifyMetaHandshake', () => {
  const token = 'the-verify-token';

  it('answers the challenge when the mode is subscribe and the token matches', () => {
    expect(
      verifyMetaHandshake(
        { 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': '1158201444' },
        token,
      ),
    ).toBe('1158201444');
    const query = new URLSearchParams(
      'hub.mode=subscribe&hub.verify_token=the-verify-token&hub.challenge=42',
    );
    expect(verifyMetaHandshake(query, token)).toBe('42');
  });

  it('refuses a wrong or missing token, another mode, a missing or odd challenge', () => {
    const good = { 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': '42' };
    expect(verifyMetaHandshake({ ...good, 'hub.verify_token': 'the-verify-tokeN' }, token)).toBeNull();
    expect(verifyMetaHandshake({ ...good, 'hub.verify_token': `${token}x` }, token)).toBeNull();
    expect(verifyMetaHandshake({ 'hub.mode': 'subscribe', 'hub.challenge': '42' }, token)).toBeNull();
    expect(verifyMetaHandshake({ ...good, 'hub.mode': 'unsubscribe' }, token)).toBeNull();
    expect(verifyMetaHandshake({ 'hub.mode': 'subscribe', 'hub.verify_token': token }, token)).toBeNull();
    expect(verifyMetaHandshake({ ...good, 'hub.challenge': '<script>alert(1)</script>' }, token)).toBeNull();
    expect(verifyMetaHandshake({ ...good, 'hub.verify_token': ['a', 'b'] }, token)).toBeNull();
    expect(verifyMetaHandshake(good, '')).toBeNull();
  });
});
