import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WHATSAPP_SANDBOX_CREDENTIALS } from '../config.js';
import type { TemplateMessage } from '../provider.js';
import { startWhatsAppSandbox, type WhatsAppSandbox } from '../testing/index.js';
import { createGupshupProvider, type GupshupClientOptions } from './client.js';
import { freePort } from '@bursar/test-support';

const GUARDIAN = '+919876543210';
const RECEIPT_TEMPLATE = '6a3f1c2e-8b7d-4e59-9c1a-2f4b6d8e0a13';

function template(overrides: Partial<TemplateMessage> = {}): TemplateMessage {
  return {
    to: GUARDIAN,
    template: { name: 'fee_receipt', language: 'en', providerTemplateId: RECEIPT_TEMPLATE },
    bodyParams: ['Asha Rao', '₹12,345.00', 'INV-2026-000042'],
    document: { url: 'https://files.bursar.test/receipts/r-42.pdf', filename: 'Receipt INV-2026-000042.pdf' },
    clientReference: 'msg_0f1e2d3c',
    ...overrides,
  };
}

describe('Gupshup adapter against the sandbox', () => {
  let sandbox: WhatsAppSandbox;
  let options: GupshupClientOptions;
  const gupshup = (overrides: Partial<GupshupClientOptions> = {}) =>
    createGupshupProvider({ ...options, ...overrides });

  beforeAll(async () => {
    sandbox = await startWhatsAppSandbox({
      templates: [
        {
          id: RECEIPT_TEMPLATE,
          name: 'fee_receipt',
          language: 'en',
          bodyText: 'Dear {{1}}, we received {{2}} for {{3}}. Thank you.',
          documentHeader: true,
        },
      ],
    });
    options = {
      baseUrl: sandbox.url,
      apiKey: WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_API_KEY,
      appName: WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_APP_NAME,
      sourceNumber: WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_SOURCE_NUMBER,
    };
  });
  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.reset());

  it('sends a template by id with its parameters and document, and the sandbox records exactly that', async () => {
    const outcome = await gupshup().sendTemplate(template());
    const [received] = sandbox.received();
    expect(outcome).toEqual({ kind: 'accepted', providerMessageId: received!.providerMessageId });
    expect(received!.providerMessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(received).toMatchObject({
      api: 'gupshup',
      to: GUARDIAN,
      type: 'template',
      template: { id: RECEIPT_TEMPLATE, name: 'fee_receipt', language: 'en' },
      params: ['Asha Rao', '₹12,345.00', 'INV-2026-000042'],
      document: {
        url: 'https://files.bursar.test/receipts/r-42.pdf',
        filename: 'Receipt INV-2026-000042.pdf',
      },
    });
    // Gupshup's API has no field for Bursar's reference.
    expect(received!.clientReference).toBeUndefined();
  });

  it('sends free text', async () => {
    const outcome = await gupshup().sendText({
      to: GUARDIAN,
      text: 'Thank you, noted.',
      clientReference: 'r',
    });
    expect(outcome.kind).toBe('accepted');
    expect(sandbox.received()).toMatchObject([
      { api: 'gupshup', type: 'text', text: 'Thank you, noted.', to: GUARDIAN },
    ]);
  });

  it('maps 429 to rate_limited, a refused destination to invalid_number, 5xx and HTML to transient', async () => {
    sandbox.failNext('429');
    expect(await gupshup().sendTemplate(template())).toEqual({
      kind: 'rate_limited',
      scope: 'throughput',
      code: 'http_429',
    });
    sandbox.failNext('invalid_number');
    expect(await gupshup().sendTemplate(template())).toMatchObject({
      kind: 'permanent',
      reason: 'invalid_number',
      title: 'Invalid Destination',
    });
    sandbox.failNext('5xx');
    expect(await gupshup().sendTemplate(template())).toMatchObject({ kind: 'transient', code: 'http_500' });
    sandbox.setFault({ kind: '5xx', httpStatus: 502 });
    expect(await gupshup().sendText({ to: GUARDIAN, text: 'x', clientReference: 'r' })).toMatchObject({
      kind: 'transient',
      code: 'http_502',
    });
    expect(sandbox.received()).toHaveLength(0);
  });

  it('maps a timeout to unknown, an unreachable port to transient, a wrong key to permanent auth', async () => {
    sandbox.failNext('timeout');
    expect(await gupshup({ timeoutMs: 200 }).sendTemplate(template())).toMatchObject({
      kind: 'unknown',
      code: 'timeout',
    });
    expect(
      await gupshup({ baseUrl: `http://127.0.0.1:${await freePort()}` }).sendTemplate(template()),
    ).toMatchObject({
      kind: 'transient',
      code: 'unreachable',
    });
    expect(await gupshup({ apiKey: 'not-the-key' }).sendTemplate(template())).toMatchObject({
      kind: 'permanent',
      reason: 'auth',
      code: 'http_401',
    });
  });

  it('surfaces Bursar bugs as Gupshup refusals: wrong app, wrong parameter count', async () => {
    expect(await gupshup({ appName: 'OtherApp' }).sendTemplate(template())).toMatchObject({
      kind: 'permanent',
      reason: 'other',
      title: 'Invalid App Details',
    });
    expect(await gupshup().sendTemplate(template({ bodyParams: ['Asha'] }))).toMatchObject({
      kind: 'permanent',
      reason: 'template',
    });
  });

  it('needs the Gupshup template id: without one it is a programming error, thrown without the number', async () => {
    const error = await gupshup()
      .sendTemplate(template({ template: { name: 'fee_receipt', language: 'en' } }))
      .then(
        () => new Error('expected a throw'),
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(TypeError);
    expect(`${(error as Error).message}${(error as Error).stack}`).not.toContain('9876543210');
    expect(sandbox.received()).toHaveLength(0);
  });
});
