import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  productionWhatsAppProblems,
  WHATSAPP_SANDBOX_CREDENTIALS,
  WHATSAPP_SANDBOX_URL,
  whatsAppApiBase,
  whatsappConfigSchema,
} from './config.js';
import { createWhatsAppProvider } from './create-provider.js';
import { startWhatsAppSandbox, type WhatsAppSandbox } from './testing/index.js';

const liveMeta = {
  WHATSAPP_PROVIDER: 'meta',
  WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
  WHATSAPP_BUSINESS_ACCOUNT_ID: '102290129340398',
  WHATSAPP_ACCESS_TOKEN: 'EAAlive_token',
  WHATSAPP_APP_SECRETS: 'live_secret_new, live_secret_old',
  WHATSAPP_VERIFY_TOKEN: 'live_verify_token',
};

const liveGupshup = {
  WHATSAPP_PROVIDER: 'gupshup',
  GUPSHUP_API_KEY: 'live_gupshup_key',
  GUPSHUP_APP_NAME: 'GreenfieldSchool',
  GUPSHUP_SOURCE_NUMBER: '919812345678',
  GUPSHUP_CALLBACK_TOKEN: 'live_callback_token',
};

const variables = (env: Record<string, string>) =>
  productionWhatsAppProblems(whatsappConfigSchema.parse(env))
    .map((problem) => problem.variable)
    .sort();

describe('WhatsApp config', () => {
  it('defaults to the sandbox, Meta-shaped, with the sandbox credentials and 80 messages a second', () => {
    const config = whatsappConfigSchema.parse({});
    expect(config).toMatchObject({
      WHATSAPP_PROVIDER: 'sandbox',
      WHATSAPP_SANDBOX_API: 'meta',
      WHATSAPP_GRAPH_VERSION: 'v21.0',
      WHATSAPP_ACCESS_TOKEN: WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_ACCESS_TOKEN,
      WHATSAPP_APP_SECRETS: [WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_APP_SECRETS],
      WHATSAPP_MPS: 80,
    });
    expect(whatsAppApiBase(config)).toBe(WHATSAPP_SANDBOX_URL);
    expect(whatsAppApiBase(whatsappConfigSchema.parse(liveMeta))).toBe('https://graph.facebook.com');
    expect(whatsAppApiBase(whatsappConfigSchema.parse(liveGupshup))).toBe('https://api.gupshup.io');
    expect(whatsappConfigSchema.parse(liveMeta).WHATSAPP_APP_SECRETS).toEqual([
      'live_secret_new',
      'live_secret_old',
    ]);
  });

  it('refuses malformed values', () => {
    expect(whatsappConfigSchema.safeParse({ WHATSAPP_GRAPH_VERSION: '21' }).success).toBe(false);
    expect(whatsappConfigSchema.safeParse({ WHATSAPP_APP_SECRETS: ' , ' }).success).toBe(false);
    expect(whatsappConfigSchema.safeParse({ WHATSAPP_MPS: '0' }).success).toBe(false);
    expect(whatsappConfigSchema.safeParse({ WHATSAPP_PROVIDER: 'twilio' }).success).toBe(false);
    expect(whatsappConfigSchema.safeParse({ GUPSHUP_SOURCE_NUMBER: '+91 98123' }).success).toBe(false);
  });

  it('lists, for production, the sandbox provider and every variable still at its sandbox default', () => {
    expect(variables({})).toEqual(
      [
        'WHATSAPP_PROVIDER',
        'WHATSAPP_PHONE_NUMBER_ID',
        'WHATSAPP_BUSINESS_ACCOUNT_ID',
        'WHATSAPP_ACCESS_TOKEN',
        'WHATSAPP_APP_SECRETS',
        'WHATSAPP_VERIFY_TOKEN',
        'GUPSHUP_API_KEY',
        'GUPSHUP_APP_NAME',
        'GUPSHUP_SOURCE_NUMBER',
        'GUPSHUP_CALLBACK_TOKEN',
      ].sort(),
    );
    // Meta chosen: only Meta's variables matter, each one named.
    expect(variables({ WHATSAPP_PROVIDER: 'meta' })).toEqual(
      [
        'WHATSAPP_PHONE_NUMBER_ID',
        'WHATSAPP_BUSINESS_ACCOUNT_ID',
        'WHATSAPP_ACCESS_TOKEN',
        'WHATSAPP_APP_SECRETS',
        'WHATSAPP_VERIFY_TOKEN',
      ].sort(),
    );
    expect(variables({ WHATSAPP_PROVIDER: 'gupshup' })).toEqual(
      ['GUPSHUP_API_KEY', 'GUPSHUP_APP_NAME', 'GUPSHUP_SOURCE_NUMBER', 'GUPSHUP_CALLBACK_TOKEN'].sort(),
    );
  });

  it('catches a sandbox secret left in a rotation list, and an API base that is not HTTPS', () => {
    expect(
      variables({
        ...liveMeta,
        WHATSAPP_APP_SECRETS: `live_secret, ${WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_APP_SECRETS}`,
      }),
    ).toEqual(['WHATSAPP_APP_SECRETS']);
    expect(variables({ ...liveMeta, WHATSAPP_API_BASE: 'http://127.0.0.1:3090' })).toEqual([
      'WHATSAPP_API_BASE',
    ]);
    expect(variables({ ...liveMeta, WHATSAPP_API_BASE: 'https://graph-proxy.internal' })).toEqual([]);
  });

  it('passes live settings for either provider', () => {
    expect(variables(liveMeta)).toEqual([]);
    expect(variables(liveGupshup)).toEqual([]);
  });
});

describe('createWhatsAppProvider in sandbox mode', () => {
  let sandbox: WhatsAppSandbox;
  beforeAll(async () => {
    sandbox = await startWhatsAppSandbox({
      templates: [
        { id: 'gs-tpl-1', name: 'fee_reminder', language: 'en', bodyText: 'Dear {{1}}, {{2}} is due.' },
      ],
    });
  });
  afterAll(() => sandbox.close());

  const message = {
    to: '+919876543210',
    template: { name: 'fee_reminder', language: 'en', providerTemplateId: 'gs-tpl-1' },
    bodyParams: ['Asha', '₹500'],
    clientReference: 'msg_1',
  };

  it('speaks Meta’s API to the sandbox by default, with the default credentials', async () => {
    const provider = createWhatsAppProvider(whatsappConfigSchema.parse({ WHATSAPP_API_BASE: sandbox.url }));
    expect(provider.name).toBe('meta');
    expect((await provider.sendTemplate(message)).kind).toBe('accepted');
    expect(sandbox.received().at(-1)).toMatchObject({ api: 'meta', template: { name: 'fee_reminder' } });
  });

  it('speaks Gupshup’s when WHATSAPP_SANDBOX_API says so', async () => {
    const provider = createWhatsAppProvider(
      whatsappConfigSchema.parse({ WHATSAPP_API_BASE: sandbox.url, WHATSAPP_SANDBOX_API: 'gupshup' }),
    );
    expect(provider.name).toBe('gupshup');
    expect((await provider.sendTemplate(message)).kind).toBe('accepted');
    expect(sandbox.received().at(-1)).toMatchObject({
      api: 'gupshup',
      template: { id: 'gs-tpl-1', name: 'fee_reminder' },
    });
  });

  it('uses the fetch it is given', async () => {
    const urls: string[] = [];
    const provider = createWhatsAppProvider(
      whatsappConfigSchema.parse({ WHATSAPP_API_BASE: sandbox.url }),
      (url, init) => {
        urls.push(url);
        return fetch(url, init);
      },
    );
    await provider.sendText({ to: '+919876543210', text: 'hi', clientReference: 'r' });
    expect(urls).toEqual([
      `${sandbox.url}/v21.0/${WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_PHONE_NUMBER_ID}/messages`,
    ]);
  });
});
