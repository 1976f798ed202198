import { createHash, createHmac, randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { registry } from '@bursar/platform';
import { startNotify } from '../testing/harness.js';

const PROBLEM = /^application\/problem\+json/;
const SECRET_NEW = 'meta_app_secret_new_0001';
const SECRET_OLD = 'meta_app_secret_old_0001';
const VERIFY_TOKEN = 'meta_verify_token_0001';
const GUPSHUP_TOKEN = 'gupshup_callback_token_0001';

/** A guardian's number as Meta writes it (digits); the test checks it never reaches a log. */
const GUARDIAN_DIGITS = '919876501234';

/** A Meta status webhook with bytes JSON.stringify would not produce (spacing, ₹ in a field Meta may add). */
function metaStatus(status = 'delivered', id = `wamid.${randomUUID()}`): Buffer {
  return Buffer.from(
    `{"object":"whatsapp_business_account","entry":[{"id":"100000000000002","changes":[{"value":` +
      `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100001",` +
      `"phone_number_id":"100000000000001"},"statuses":[{"id":"${id}","status":"${status}",` +
      `"timestamp":"${Math.floor(Date.now() / 1000)}","recipient_id":"${GUARDIAN_DIGITS}",  ` +
      `"biz_opaque_callback_data":"msg-₹-1"}]},"field":"messages"}]}]}`,
  );
}

/** Meta's signature, computed here with node:crypto rather than the code under test. */
function sign(body: Buffer, secret = SECRET_NEW): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function gupshupStatus(): Buffer {
  return Buffer.from(
    JSON.stringify({
      app: 'BursarSandbox',
      timestamp: Date.now(),
      version: 2,
      type: 'message-event',
      payload: {
        id: randomUUID(),
        gsId: randomUUID(),
        type: 'delivered',
        destination: GUARDIAN_DIGITS,
        payload: { ts: 1 },
      },
    }),
  );
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const found = metric?.values.find((value) =>
    Object.entries(labels).every(([key, label]) => value.labels[key] === label),
  );
  return found?.value ?? 0;
}

describe('WhatsApp webhooks', async () => {
  const notify = await startNotify({
    env: {
      WHATSAPP_APP_SECRETS: `${SECRET_NEW}, ${SECRET_OLD}`,
      WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
      GUPSHUP_CALLBACK_TOKEN: GUPSHUP_TOKEN,
    },
  });
  const { db, sandbox } = notify;

  const postMeta = (body: Buffer, signature?: string) =>
    notify.request(null, 'POST', '/webhooks/whatsapp/meta', {
      body,
      headers: {
        'content-type': 'application/json',
        ...(signature ? { 'x-hub-signature-256': signature } : {}),
      },
    });
  const postGupshup = (body: Buffer, token?: string) =>
    notify.request(
      null,
      'POST',
      `/webhooks/whatsapp/gupshup${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`,
      { body, headers: { 'content-type': 'application/json' } },
    );
  async function stored() {
    const events = await db.selectFrom('whatsappEvents').selectAll().orderBy('receivedAt').execute();
    const jobs = await db
      .selectFrom('outbox')
      .select(['jobName', 'queue', 'jobId'])
      .where('jobName', '=', 'whatsapp-event.apply')
      .execute();
    return { events, jobs };
  }

  beforeEach(async () => {
    sandbox.reset();
    await db.deleteFrom('outbox').execute();
    await db.deleteFrom('whatsappEvents').execute();
  });

  describe('GET /webhooks/whatsapp/meta (the subscription handshake)', () => {
    const handshake = (query: string) => notify.request(null, 'GET', `/webhooks/whatsapp/meta?${query}`);

    it('echoes the challenge as text/plain when the verify token is right', async () => {
      const response = await handshake(
        `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(response.text).toBe('1158201444');
    });

    it('answers 403 problem+json for a wrong token, another mode, or no challenge', async () => {
      for (const query of [
        'hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1',
        `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`,
        `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}`,
        '',
      ]) {
        const response = await handshake(query);
        expect(response.status, query).toBe(403);
        expect(response.headers.get('content-type')).toMatch(PROBLEM);
        expect(response.body.code).toBe('forbidden');
      }
    });
  });

  describe('POST /webhooks/whatsapp/meta', () => {
    it('stores a signed webhook byte-exact under its hash, with one apply job', async () => {
      const body = metaStatus();
      const before = await counter('whatsapp_webhooks_received_total', {
        provider: 'meta',
        outcome: 'stored',
      });
      const response = await postMeta(body, sign(body));
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ received: true });
      const { events, jobs } = await stored();
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event).toMatchObject({ provider: 'meta', status: 'received' });
      expect(Buffer.compare(event!.body, body)).toBe(0);
      expect(event!.bodyHash).toBe(createHash('sha256').update(body).digest('hex'));
      expect(jobs).toEqual([
        {
          jobName: 'whatsapp-event.apply',
          queue: 'whatsapp-campaign',
          jobId: `whatsapp-event.apply.${event!.id}`,
        },
      ]);
      expect(await counter('whatsapp_webhooks_received_total', { provider: 'meta', outcome: 'stored' })).toBe(
        before + 1,
      );
    });

    it('verifies with the old and the new secret during a rotation', async () => {
      for (const secret of [SECRET_OLD, SECRET_NEW]) {
        const body = metaStatus();
        expect((await postMeta(body, sign(body, secret))).status).toBe(200);
      }
      const { events, jobs } = await stored();
      expect([events.length, jobs.length]).toEqual([2, 2]);
    });

    it('refuses a tampered body, a wrong secret, a missing or garbage signature with 401, storing nothing', async () => {
      const body = metaStatus();
      const tampered = Buffer.from(body.toString().replace('delivered', 'read'));
      const cases: [Buffer, string | undefined, string][] = [
        [tampered, sign(body), 'bad_signature'],
        [body, sign(body, 'not-the-secret'), 'bad_signature'],
        [body, sign(body).replace('sha256=', 'sha1='), 'bad_signature'],
        [body, 'garbage', 'bad_signature'],
        [body, undefined, 'missing_signature'],
      ];
      for (const [payload, signature, reason] of cases) {
        const before = await counter('whatsapp_webhooks_rejected_total', { provider: 'meta', reason });
        const response = await postMeta(payload, signature);
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toMatch(PROBLEM);
        expect(response.body).toMatchObject({ status: 401, code: 'invalid_signature' });
        expect(await counter('whatsapp_webhooks_rejected_total', { provider: 'meta', reason })).toBe(
          before + 1,
        );
      }
      const { events, jobs } = await stored();
      expect([events.length, jobs.length]).toEqual([0, 0]);
    });

    it('refuses a signed body that is not a Meta webhook with 400, storing nothing', async () => {
      for (const text of ['not json at all', '{"object":"whatsapp_business_account","entry":"nope"}', '[]']) {
        const body = Buffer.from(text);
        const response = await postMeta(body, sign(body));
        expect(response.status, text).toBe(400);
        expect(response.headers.get('content-type')).toMatch(PROBLEM);
        expect(response.body.code).toBe('malformed_json');
      }
      const { events, jobs } = await stored();
      expect([events.length, jobs.length]).toEqual([0, 0]);
    });

    it('answers concurrent deliveries of the same bytes with 200 and stores them, and their job, once', async () => {
      const body = metaStatus('read');
      const before = await counter('whatsapp_webhooks_received_total', {
        provider: 'meta',
        outcome: 'duplicate',
      });
      const responses = await Promise.all(Array.from({ length: 6 }, () => postMeta(body, sign(body))));
      expect(responses.map((response) => response.status)).toEqual(Array(6).fill(200));
      const { events, jobs } = await stored();
      expect([events.length, jobs.length]).toEqual([1, 1]);
      expect(
        await counter('whatsapp_webhooks_received_total', { provider: 'meta', outcome: 'duplicate' }),
      ).toBe(before + 5);
    });

    it('refuses a body over 1 MB with 413', async () => {
      const body = Buffer.alloc(1024 * 1024 + 1, 'a');
      const response = await postMeta(body, sign(body));
      expect(response.status).toBe(413);
      expect(response.body.code).toBe('payload_too_large');
      expect((await stored()).events).toHaveLength(0);
    });

    it('takes in what the sandbox sends, signed as Meta signs: a guardian writing STOP', async () => {
      const delivery = await sandbox.deliverInbound(`+${GUARDIAN_DIGITS}`, 'STOP', { api: 'meta' });
      expect(delivery.status).toBe(200);
      const { events, jobs } = await stored();
      expect(events.map((event) => event.provider)).toEqual(['meta']);
      expect(events[0]!.body.toString()).toBe(delivery.body);
      expect(jobs).toHaveLength(1);
    });
  });

  describe('POST /webhooks/whatsapp/gupshup', () => {
    it('stores a callback with the right token, with one apply job', async () => {
      const body = gupshupStatus();
      const response = await postGupshup(body, GUPSHUP_TOKEN);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ received: true });
      const again = await postGupshup(body, GUPSHUP_TOKEN);
      expect(again.status).toBe(200);
      const { events, jobs } = await stored();
      expect(events.map((event) => [event.provider, event.body.toString()])).toEqual([
        ['gupshup', body.toString()],
      ]);
      expect(jobs).toEqual([
        {
          jobName: 'whatsapp-event.apply',
          queue: 'whatsapp-campaign',
          jobId: `whatsapp-event.apply.${events[0]!.id}`,
        },
      ]);
    });

    it('refuses a wrong or missing token with 401, and a body not Gupshup’s with 400, storing nothing', async () => {
      for (const token of ['wrong', '', undefined]) {
        const before = await counter('whatsapp_webhooks_rejected_total', {
          provider: 'gupshup',
          reason: 'bad_token',
        });
        const response = await postGupshup(gupshupStatus(), token);
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toMatch(PROBLEM);
        expect(
          await counter('whatsapp_webhooks_rejected_total', { provider: 'gupshup', reason: 'bad_token' }),
        ).toBe(before + 1);
      }
      const malformed = await postGupshup(Buffer.from('{"type":"message-event"}'), GUPSHUP_TOKEN);
      expect(malformed.status).toBe(400);
      expect((await stored()).events).toHaveLength(0);
    });

    it('takes in the sandbox’s Gupshup callbacks', async () => {
      const delivery = await sandbox.deliverInbound(`+${GUARDIAN_DIGITS}`, 'START', { api: 'gupshup' });
      expect(delivery.status).toBe(200);
      expect((await stored()).events.map((event) => event.provider)).toEqual(['gupshup']);
    });
  });

  it('writes no phone number, body, signature, secret or token into its logs', async () => {
    const body = metaStatus();
    await postMeta(body, sign(body));
    await postMeta(body, sign(body, 'wrong'));
    await postGupshup(gupshupStatus(), GUPSHUP_TOKEN);
    await postGupshup(gupshupStatus(), 'wrong-token');
    await postMeta(Buffer.from(`{"object":"x","entry":[{"changes":[{"field":"${GUARDIAN_DIGITS}"}]}]}`), 'x');
    const logs = notify.logs.join('');
    expect(logs).toContain('/webhooks/whatsapp/meta');
    expect(logs).toContain('/webhooks/whatsapp/gupshup');
    for (const secret of [
      GUARDIAN_DIGITS,
      SECRET_NEW,
      SECRET_OLD,
      GUPSHUP_TOKEN,
      'wrong-token',
      sign(body),
      'msg-₹-1',
    ])
      expect(logs).not.toContain(secret);
  });
});
