import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WHATSAPP_SANDBOX_CREDENTIALS } from '../config.js';
import { WhatsAppProviderError, type SendOutcome, type TemplateMessage } from '../provider.js';
import { startWhatsAppSandbox, type WhatsAppSandbox } from '../testing/index.js';
import { createMetaProvider, type MetaClientOptions } from './client.js';
import { metaFailureOutcome } from './errors.js';
import { freePort } from '@bursar/test-support';

const GUARDIAN = '+919876543210';

function template(overrides: Partial<TemplateMessage> = {}): TemplateMessage {
  return {
    to: GUARDIAN,
    template: { name: 'fee_receipt', language: 'en' },
    bodyParams: ['Asha Rao', '₹12,345.00', 'INV-2026-000042'],
    document: { url: 'https://files.bursar.test/receipts/r-42.pdf', filename: 'Receipt INV-2026-000042.pdf' },
    clientReference: 'msg_0f1e2d3c',
    ...overrides,
  };
}

describe('Meta adapter against the sandbox', () => {
  let sandbox: WhatsAppSandbox;
  let options: MetaClientOptions;
  const meta = (overrides: Partial<MetaClientOptions> = {}) =>
    createMetaProvider({ ...options, ...overrides });

  beforeAll(async () => {
    sandbox = await startWhatsAppSandbox({
      templates: [
        {
          name: 'fee_receipt',
          language: 'en',
          bodyText: 'Dear {{1}}, we received {{2}} for {{3}}. Thank you.',
          documentHeader: true,
        },
        { name: 'fee_reminder', language: 'en', bodyText: 'Dear {{1}}, {{2}} is due for {{3}}.' },
      ],
    });
    options = {
      baseUrl: `${sandbox.url}/`,
      graphVersion: 'v21.0',
      phoneNumberId: WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_PHONE_NUMBER_ID,
      businessAccountId: WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_BUSINESS_ACCOUNT_ID,
      accessToken: WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_ACCESS_TOKEN,
    };
  });
  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.reset());

  it('sends a template with its document header and parameters, and the sandbox records exactly that', async () => {
    const outcome = await meta().sendTemplate(template());
    expect(outcome.kind).toBe('accepted');
    const [received] = sandbox.received();
    expect(received).toMatchObject({
      api: 'meta',
      to: GUARDIAN,
      type: 'template',
      template: { name: 'fee_receipt', language: 'en' },
      params: ['Asha Rao', '₹12,345.00', 'INV-2026-000042'],
      document: {
        url: 'https://files.bursar.test/receipts/r-42.pdf',
        filename: 'Receipt INV-2026-000042.pdf',
      },
      clientReference: 'msg_0f1e2d3c',
    });
    expect(outcome).toEqual({ kind: 'accepted', providerMessageId: received!.providerMessageId });
    expect(received!.providerMessageId).toMatch(/^wamid\./);
    expect(sandbox.received()).toHaveLength(1);
  });

  it('sends a template without a header, and free text', async () => {
    const reminder = await meta().sendTemplate(
      template({
        template: { name: 'fee_reminder', language: 'en' },
        document: undefined,
        bodyParams: ['Asha', '₹500', 'Term 2'],
      }),
    );
    const text = await meta().sendText({
      to: GUARDIAN,
      text: 'Your receipt is attached above.',
      clientReference: 'msg_t1',
    });
    expect(reminder.kind).toBe('accepted');
    expect(text.kind).toBe('accepted');
    const [first, second] = sandbox.received();
    expect(first).toMatchObject({ type: 'template', params: ['Asha', '₹500', 'Term 2'] });
    expect(first!.document).toBeUndefined();
    expect(second).toMatchObject({
      type: 'text',
      text: 'Your receipt is attached above.',
      params: [],
      clientReference: 'msg_t1',
    });
  });

  it('maps a throughput fault to rate_limited, whether Meta answers it as 400 (its docs) or 429', async () => {
    sandbox.failNext('429');
    expect(await meta().sendTemplate(template())).toEqual({
      kind: 'rate_limited',
      scope: 'throughput',
      code: '130429',
    });
    sandbox.setFault({ kind: '429', httpStatus: 429 });
    expect(await meta().sendTemplate(template())).toEqual({
      kind: 'rate_limited',
      scope: 'throughput',
      code: '130429',
    });
    expect(sandbox.received()).toHaveLength(0);
    // The fault was for one request each: the next goes through.
    expect((await meta().sendTemplate(template())).kind).toBe('accepted');
  });

  it('maps a number not on WhatsApp to permanent invalid_number, from the invalid prefix or a fault for one number', async () => {
    const prefixed = await meta().sendTemplate(template({ to: '+15550001234' }));
    expect(prefixed).toMatchObject({ kind: 'permanent', reason: 'invalid_number', code: '131026' });
    sandbox.setFault({ kind: 'invalid_number', numbers: ['+919800000001'], count: 5 });
    expect(await meta().sendTemplate(template({ to: '+919800000001' }))).toMatchObject({
      kind: 'permanent',
      reason: 'invalid_number',
    });
    // Other recipients are not affected by a fault for one number.
    expect((await meta().sendTemplate(template())).kind).toBe('accepted');
  });

  it('maps 500, 503 and a proxy’s HTML 502 to transient', async () => {
    sandbox.failNext('5xx');
    expect(await meta().sendTemplate(template())).toMatchObject({ kind: 'transient', code: '131000' });
    sandbox.setFault({ kind: '5xx', httpStatus: 503 });
    expect(await meta().sendTemplate(template())).toMatchObject({ kind: 'transient', code: '131016' });
    sandbox.setFault({ kind: '5xx', httpStatus: 502 });
    expect(await meta().sendTemplate(template())).toMatchObject({ kind: 'transient', code: 'http_502' });
  });

  it('keeps faulting for forMs, then stops', async () => {
    sandbox.setFault({ kind: '5xx', forMs: 60_000 });
    for (let i = 0; i < 3; i++)
      expect((await meta().sendText({ to: GUARDIAN, text: 'x', clientReference: 'r' })).kind).toBe(
        'transient',
      );
    sandbox.clearFaults();
    expect((await meta().sendText({ to: GUARDIAN, text: 'x', clientReference: 'r' })).kind).toBe('accepted');
  });

  it('calls a held request unknown after its timeout, a connection cut after the request unknown, and a refused one transient', async () => {
    // The provider may have taken these: sending again could message the guardian twice.
    sandbox.failNext('timeout');
    expect(await meta({ timeoutMs: 200 }).sendTemplate(template())).toEqual({
      kind: 'unknown',
      code: 'timeout',
      title: 'no answer in 200 ms',
    });
    const cut = createServer((req) => req.socket.destroy());
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = cut.address() as AddressInfo;
      expect(await meta({ baseUrl: `http://127.0.0.1:${port}` }).sendTemplate(template())).toMatchObject({
        kind: 'unknown',
        code: 'connection_lost',
      });
    } finally {
      await new Promise((resolve) => cut.close(resolve));
    }
    // Nothing listens there: the request never left, so trying again is safe.
    const unreachable = await meta({ baseUrl: `http://127.0.0.1:${await freePort()}` }).sendTemplate(
      template(),
    );
    expect(unreachable).toMatchObject({ kind: 'transient', code: 'unreachable' });
  });

  it('maps a wrong token to permanent auth (Meta’s 401 with code 190)', async () => {
    expect(await meta({ accessToken: 'EAAnot-the-token' }).sendTemplate(template())).toMatchObject({
      kind: 'permanent',
      reason: 'auth',
      code: '190',
    });
  });

  it('surfaces Bursar bugs as the permanent errors Meta would answer', async () => {
    // A parameter with a newline (an address typed on two lines).
    expect(await meta().sendTemplate(template({ bodyParams: ['Asha\nRao', '₹1', 'INV-1'] }))).toMatchObject({
      kind: 'permanent',
      reason: 'template',
      code: '132018',
    });
    // The wrong number of parameters for the template.
    expect(await meta().sendTemplate(template({ bodyParams: ['Asha', '₹1'] }))).toMatchObject({
      kind: 'permanent',
      reason: 'template',
      code: '132000',
    });
    // A template submitted with a document header, sent without one.
    expect(await meta().sendTemplate(template({ document: undefined }))).toMatchObject({
      kind: 'permanent',
      reason: 'template',
      code: '132012',
    });
    // A phone number id the token cannot see.
    expect(await meta({ phoneNumberId: '999' }).sendTemplate(template())).toMatchObject({
      kind: 'permanent',
      reason: 'other',
      code: '100',
    });
    expect(sandbox.received()).toHaveLength(0);
  });

  it('refuses a recipient that is not E.164 without a request, and never puts a phone number in an outcome or error', async () => {
    const outcome = await meta().sendText({ to: '98765 43210', text: 'hi', clientReference: 'r' });
    expect(outcome).toMatchObject({ kind: 'permanent', reason: 'invalid_number', code: 'not_e164' });
    expect(sandbox.received()).toHaveLength(0);

    const outcomes: SendOutcome[] = [outcome];
    sandbox.setFault({ kind: 'invalid_number', numbers: [GUARDIAN] });
    outcomes.push(await meta().sendTemplate(template()));
    sandbox.failNext('5xx');
    outcomes.push(await meta().sendTemplate(template()));
    outcomes.push(await meta({ baseUrl: `http://127.0.0.1:${await freePort()}` }).sendTemplate(template()));
    outcomes.push(await meta({ accessToken: 'wrong' }).sendTemplate(template()));
    // A provider that quotes the number in its words.
    outcomes.push(
      metaFailureOutcome(
        400,
        new Headers(),
        JSON.stringify({ error: { code: 131026, message: `(#131026) ${GUARDIAN} is not on WhatsApp` } }),
      ),
    );
    const everything = JSON.stringify(outcomes);
    expect(everything).not.toContain('9876543210');
    expect(everything).toContain('[number] is not on WhatsApp');

    let thrown: unknown;
    try {
      await meta().sendTemplate(template({ clientReference: 'x'.repeat(513) }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(`${(thrown as Error).message}${(thrown as Error).stack}`).not.toContain('9876543210');
  });

  it('submits a template, which the sandbox approves and then knows', async () => {
    const submitted = await meta().submitTemplate!({
      name: 'term_invoice',
      language: 'en_US',
      category: 'UTILITY',
      bodyText: 'Dear {{1}}, the invoice {{2}} for {{3}} is attached.',
      bodyExample: ['Asha Rao', 'INV-2026-000042', '₹12,345.00'],
      documentHeader: { exampleHandle: '4::aW52b2ljZS5wZGY=:ARb' },
    });
    expect(submitted.status).toBe('approved');
    expect(sandbox.templates().find((known) => known.name === 'term_invoice')).toMatchObject({
      id: submitted.providerTemplateId,
      language: 'en_US',
      placeholders: 3,
      documentHeader: true,
    });
    const send = await meta().sendTemplate(
      template({ template: { name: 'term_invoice', language: 'en_US' } }),
    );
    expect(send.kind).toBe('accepted');
  });

  it('throws a WhatsAppProviderError for a template Meta refuses', async () => {
    const refusal = await meta().submitTemplate!({
      name: 'starts_with_a_variable',
      language: 'en',
      category: 'UTILITY',
      bodyText: '{{1}}, your fee is due.',
      bodyExample: ['Asha'],
    }).then(
      () => new Error('expected a refusal'),
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(WhatsAppProviderError);
    expect((refusal as WhatsAppProviderError).outcome).toMatchObject({ kind: 'permanent', code: '100' });
    expect((refusal as Error).message).toContain("Variables can't be at the start or end");
  });
});
