import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WHATSAPP_SANDBOX_CREDENTIALS as SANDBOX } from '../config.js';
import { createGupshupProvider } from '../gupshup/client.js';
import { parseGupshupWebhook } from '../gupshup/webhook.js';
import { createMetaProvider } from '../meta/client.js';
import { parseMetaWebhook } from '../meta/events.js';
import { verifyMetaSignature } from '../meta/webhook.js';
import type { StatusEvent, WhatsAppEvent } from '../provider.js';
import { furthestStatus } from '../status.js';
import {
  startWebhookReceiver,
  startWhatsAppSandbox,
  type WebhookReceiver,
  type WhatsAppSandbox,
} from './index.js';

const GUARDIAN = '+919876543210';
const APP_SECRET = 'sandbox-test-app-secret';

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
});

async function setUp(options: Parameters<typeof startWhatsAppSandbox>[0] = {}) {
  const receiver = await startWebhookReceiver();
  stoppers.push(receiver.close);
  const sandbox = await startWhatsAppSandbox({
    webhookUrl: `${receiver.url}/webhooks/whatsapp/meta`,
    gupshupCallbackUrl: `${receiver.url}/webhooks/whatsapp/gupshup?token=${SANDBOX.GUPSHUP_CALLBACK_TOKEN}`,
    appSecret: APP_SECRET,
    statusDelayMs: 5,
    webhookRetry: { baseDelayMs: 20 },
    ...options,
  });
  stoppers.push(sandbox.close);
  return { receiver, sandbox };
}

const meta = (sandbox: WhatsAppSandbox) =>
  createMetaProvider({
    baseUrl: sandbox.url,
    graphVersion: 'v21.0',
    phoneNumberId: SANDBOX.WHATSAPP_PHONE_NUMBER_ID,
    businessAccountId: SANDBOX.WHATSAPP_BUSINESS_ACCOUNT_ID,
    accessToken: SANDBOX.WHATSAPP_ACCESS_TOKEN,
  });

const reminder = {
  to: GUARDIAN,
  template: { name: 'fee_reminder', language: 'en', providerTemplateId: 'tpl-1' },
  bodyParams: ['Asha', '₹500', 'Term 2'],
  clientReference: 'msg_reminder_1',
};

/** Verifies and parses what the receiver got, as Bursar's Meta webhook route will. */
function metaEvents(receiver: WebhookReceiver, count: number): WhatsAppEvent[] {
  return receiver.requests.slice(0, count).flatMap((request) => {
    expect(
      verifyMetaSignature(request.rawBody, request.headers['x-hub-signature-256'] as string, [APP_SECRET]),
    ).toBe(true);
    return parseMetaWebhook(request.rawBody);
  });
}

describe('the sandbox’s status webhooks', () => {
  it('reports sent, delivered, read for an accepted message, Meta-style, signed over the exact bytes sent', async () => {
    const { receiver, sandbox } = await setUp();
    const outcome = await meta(sandbox).sendTemplate(reminder);
    if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
    await receiver.waitFor(3);

    for (const request of receiver.requests) {
      expect(request.url).toBe('/webhooks/whatsapp/meta');
      expect(request.headers['content-type']).toBe('application/json');
      // Independently of the code under test: HMAC-SHA256 of the raw bytes with the app secret.
      const expected = `sha256=${createHmac('sha256', APP_SECRET).update(request.rawBody).digest('hex')}`;
      expect(request.headers['x-hub-signature-256']).toBe(expected);
      expect(verifyMetaSignature(request.rawBody, expected, ['some-other-secret'])).toBe(false);
    }
    const events = metaEvents(receiver, 3) as StatusEvent[];
    expect(events.map((event) => event.status)).toEqual(['sent', 'delivered', 'read']);
    for (const event of events) {
      expect(event).toMatchObject({
        kind: 'status',
        providerMessageId: outcome.providerMessageId,
        recipient: GUARDIAN,
        clientReference: 'msg_reminder_1',
      });
    }
    await sandbox.idle();
    expect(sandbox.received()[0]!.statuses).toEqual(['sent', 'delivered', 'read']);
    expect(
      sandbox.deliveries().map((delivery) => [delivery.kind, delivery.status, delivery.attempts]),
    ).toEqual([
      ['status', 200, 1],
      ['status', 200, 1],
      ['status', 200, 1],
    ]);
  });

  it('reports a failed status with Meta’s error when the plan says so', async () => {
    const { receiver, sandbox } = await setUp({ statuses: ['sent', 'failed'] });
    await meta(sandbox).sendTemplate(reminder);
    await receiver.waitFor(2);
    expect(metaEvents(receiver, 2)).toMatchObject([
      { status: 'sent' },
      { status: 'failed', errorCode: '131026', errorTitle: 'Message undeliverable: Message Undeliverable.' },
    ]);
  });

  it('retries a webhook the receiver refused, and a receiver that keeps the furthest status ends at read out of order', async () => {
    const { receiver, sandbox } = await setUp({ shuffleStatuses: true });
    receiver.refuse(2);
    await meta(sandbox).sendText({ to: GUARDIAN, text: 'Noted, thank you.', clientReference: 'msg_t' });
    await sandbox.idle();
    // Two refusals, then each of the three statuses taken: five requests.
    expect(receiver.requests).toHaveLength(5);
    const firstDelivery = sandbox.deliveries()[0]!;
    expect(firstDelivery.attempts).toBe(3);
    expect(firstDelivery.status).toBe(200);
    const taken = sandbox.deliveries().map((delivery) => parseMetaWebhook(delivery.body)[0] as StatusEvent);
    expect(taken.map((event) => event.status).sort()).toEqual(['delivered', 'read', 'sent']);
    const final = taken.reduce<StatusEvent['status'] | null>(
      (current, event) => furthestStatus(current, event.status),
      null,
    );
    expect(final).toBe('read');
  });

  it('keeps running when the receiver refuses connections, and says so', async () => {
    const { receiver, sandbox } = await setUp({ webhookRetry: { attempts: 2, baseDelayMs: 5 } });
    await receiver.close();
    const outcome = await meta(sandbox).sendTemplate(reminder);
    expect(outcome.kind).toBe('accepted');
    await sandbox.idle();
    expect(sandbox.deliveries()).toHaveLength(3);
    for (const delivery of sandbox.deliveries()) {
      expect(delivery).toMatchObject({ status: null, attempts: 2, error: 'ECONNREFUSED' });
    }
    // Still answering.
    expect((await meta(sandbox).sendTemplate(reminder)).kind).toBe('accepted');
  });

  it('reports Gupshup-style callbacks for a Gupshup send, named so the parser finds the send’s id', async () => {
    const { receiver, sandbox } = await setUp();
    const gupshup = createGupshupProvider({
      baseUrl: sandbox.url,
      apiKey: SANDBOX.GUPSHUP_API_KEY,
      appName: SANDBOX.GUPSHUP_APP_NAME,
      sourceNumber: SANDBOX.GUPSHUP_SOURCE_NUMBER,
    });
    const outcome = await gupshup.sendTemplate(reminder);
    if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
    const requests = await receiver.waitFor(4);
    expect(requests.map((request) => request.url)).toEqual(
      Array(4).fill(`/webhooks/whatsapp/gupshup?token=${SANDBOX.GUPSHUP_CALLBACK_TOKEN}`),
    );
    const events = requests.flatMap((request) => parseGupshupWebhook(request.rawBody)) as StatusEvent[];
    expect(events.map((event) => [event.status, event.providerMessageId])).toEqual([
      ['queued', outcome.providerMessageId],
      ['sent', outcome.providerMessageId],
      ['delivered', outcome.providerMessageId],
      ['read', outcome.providerMessageId],
    ]);
    // The raw callbacks do use WhatsApp's id in `id` after enqueued, as Gupshup's do.
    const sentBody = JSON.parse(requests[1]!.rawBody.toString('utf8'));
    expect(sentBody.payload.gsId).toBe(outcome.providerMessageId);
    expect(sentBody.payload.id).not.toBe(outcome.providerMessageId);
  });

  it('accepts a Gupshup send to a number not on WhatsApp and reports it failed with 1002', async () => {
    const { receiver, sandbox } = await setUp();
    const gupshup = createGupshupProvider({
      baseUrl: sandbox.url,
      apiKey: SANDBOX.GUPSHUP_API_KEY,
      appName: SANDBOX.GUPSHUP_APP_NAME,
      sourceNumber: SANDBOX.GUPSHUP_SOURCE_NUMBER,
    });
    expect((await gupshup.sendText({ to: '+15550009999', text: 'hello', clientReference: 'r' })).kind).toBe(
      'accepted',
    );
    const requests = await receiver.waitFor(2);
    expect(requests.flatMap((request) => parseGupshupWebhook(request.rawBody))).toMatchObject([
      { status: 'queued' },
      { status: 'failed', errorCode: '1002', recipient: '+15550009999' },
    ]);
  });
});

describe('the sandbox’s other webhooks', () => {
  it('delivers a guardian’s STOP, signed, Meta-style and Gupshup-style', async () => {
    const { receiver, sandbox } = await setUp();
    const delivery = await sandbox.deliverInbound(GUARDIAN, 'STOP');
    expect(delivery).toMatchObject({ api: 'meta', kind: 'inbound', status: 200 });
    expect(metaEvents(receiver, 1)).toMatchObject([
      { kind: 'inbound', from: GUARDIAN, text: 'STOP', businessNumberId: SANDBOX.WHATSAPP_PHONE_NUMBER_ID },
    ]);
    await sandbox.deliverInbound(GUARDIAN, 'stop please', { api: 'gupshup' });
    expect(parseGupshupWebhook(receiver.requests[1]!.rawBody)).toMatchObject([
      { kind: 'inbound', from: GUARDIAN, text: 'stop please', businessNumberId: SANDBOX.GUPSHUP_APP_NAME },
    ]);
    await expect(sandbox.deliverInbound('98765 43210', 'STOP')).rejects.toThrow(TypeError);
  });

  it('sends a signed template approval after a submission', async () => {
    const { receiver, sandbox } = await setUp();
    const submitted = await meta(sandbox).submitTemplate!({
      name: 'fee_reminder',
      language: 'en',
      category: 'UTILITY',
      bodyText: 'Dear {{1}}, {{2}} is due for {{3}}. Please pay on time.',
      bodyExample: ['Asha', '₹500', 'Term 2'],
    });
    await receiver.waitFor(1);
    expect(metaEvents(receiver, 1)).toEqual([
      {
        kind: 'template',
        providerTemplateId: submitted.providerTemplateId,
        name: 'fee_reminder',
        language: 'en',
        status: 'approved',
      },
    ]);
  });

  it('cancels pending webhooks on reset, so a test never sees the last test’s', async () => {
    const { receiver, sandbox } = await setUp({ statusDelayMs: 200 });
    await meta(sandbox).sendTemplate(reminder);
    sandbox.reset();
    await sandbox.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(sandbox.received()).toHaveLength(0);
  });
});

describe('the sandbox’s HTTP surface', () => {
  it('refuses a wrong token with Meta’s 401 shape, and a malformed body with code 100', async () => {
    const { sandbox } = await setUp();
    const post = (body: unknown, token: string = SANDBOX.WHATSAPP_ACCESS_TOKEN) =>
      fetch(`${sandbox.url}/v21.0/${SANDBOX.WHATSAPP_PHONE_NUMBER_ID}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const unauthorized = await post({}, 'wrong');
    expect(unauthorized.status).toBe(401);
    const error = ((await unauthorized.json()) as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ type: 'OAuthException', code: 190 });
    expect(typeof error.message).toBe('string');
    expect(typeof error.fbtrace_id).toBe('string');

    const valid = { messaging_product: 'whatsapp', to: '919876543210', type: 'text', text: { body: 'hi' } };
    expect((await post(valid)).status).toBe(200);
    for (const bad of [
      { ...valid, messaging_product: 'sms' },
      { ...valid, colour: 'blue' },
      { ...valid, to: '98765-43210' },
      { ...valid, type: 'template' },
      { ...valid, text: { body: '' } },
      {
        ...valid,
        type: 'template',
        text: undefined,
        template: { name: 'Fee Reminder', language: { code: 'en' } },
      },
    ]) {
      const answer = await post(bad);
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: { code: number } }).error.code).toBe(100);
    }
    const notJson = await fetch(`${sandbox.url}/v21.0/${SANDBOX.WHATSAPP_PHONE_NUMBER_ID}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${SANDBOX.WHATSAPP_ACCESS_TOKEN}`,
        'content-type': 'application/json',
      },
      body: '{"messaging_product":',
    });
    expect(notJson.status).toBe(400);
    expect(sandbox.received()).toHaveLength(1);
  });

  it('refuses a Gupshup destination with a + and unknown form fields', async () => {
    const { sandbox } = await setUp();
    const post = (fields: Record<string, string>) =>
      fetch(`${sandbox.url}/wa/api/v1/msg`, {
        method: 'POST',
        headers: { apikey: SANDBOX.GUPSHUP_API_KEY, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    const good = {
      channel: 'whatsapp',
      source: SANDBOX.GUPSHUP_SOURCE_NUMBER.slice(1),
      destination: '919876543210',
      'src.name': SANDBOX.GUPSHUP_APP_NAME,
      message: JSON.stringify({ type: 'text', text: 'hi' }),
    };
    expect((await post(good)).status).toBe(202);
    const plus = await post({ ...good, destination: '+919876543210' });
    expect(plus.status).toBe(400);
    expect(await plus.json()).toEqual({ status: 'error', message: 'Invalid Destination' });
    expect((await post({ ...good, priority: 'high' })).status).toBe(400);
    expect((await post({ ...good, message: 'hi' })).status).toBe(400);
  });

  it('shows received messages on its page, escaped and with numbers masked, and as JSON', async () => {
    const { sandbox } = await setUp();
    await meta(sandbox).sendText({
      to: GUARDIAN,
      text: '<script>alert("x")</script> & more',
      clientReference: 'msg_<b>',
    });
    const page = await fetch(`${sandbox.url}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; more');
    expect(html).not.toContain('<script>');
    expect(html).toContain('msg_&#60;b&#62;');
    expect(html).toContain('+91******3210');
    expect(html).not.toContain('9876543210');

    const json = (await (await fetch(`${sandbox.url}/_sandbox/messages`)).json()) as {
      messages: { to: string; text: string; clientReference: string }[];
    };
    expect(json.messages).toMatchObject([
      { to: GUARDIAN, text: '<script>alert("x")</script> & more', clientReference: 'msg_<b>' },
    ]);
  });

  it('lets a person play a guardian’s reply from the page’s form', async () => {
    const { receiver, sandbox } = await setUp();
    const answer = await fetch(`${sandbox.url}/_sandbox/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ from: GUARDIAN, text: 'STOP', api: 'meta' }).toString(),
      redirect: 'manual',
    });
    expect(answer.status).toBe(303);
    expect(metaEvents(receiver, 1)).toMatchObject([{ kind: 'inbound', text: 'STOP', from: GUARDIAN }]);
  });
});
