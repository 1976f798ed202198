import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bursar/platform';
import { loadServiceConfig } from './config.js';

const liveMeta = {
  WHATSAPP_PROVIDER: 'meta',
  WHATSAPP_PHONE_NUMBER_ID: '204000000000001',
  WHATSAPP_BUSINESS_ACCOUNT_ID: '204000000000002',
  WHATSAPP_ACCESS_TOKEN: 'EAAlive_token',
  WHATSAPP_APP_SECRETS: 'live_secret_new,live_secret_old',
  WHATSAPP_VERIFY_TOKEN: 'live_verify_token',
};

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadServiceConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.variable).sort();
    throw error;
  }
  return [];
}

describe('notify config', () => {
  it('starts in development with the sandbox and its public defaults', () => {
    const config = loadServiceConfig({});
    expect(config).toMatchObject({ NOTIFY_PORT: 3002, WHATSAPP_PROVIDER: 'sandbox' });
    expect(config.WHATSAPP_DOCUMENT_HEADER_HANDLE).toBeUndefined();
  });

  it('refuses the sandbox and every development credential in production, naming each variable', () => {
    expect(issuesOf({ NODE_ENV: 'production' })).toContain('WHATSAPP_PROVIDER');
    expect(issuesOf({ NODE_ENV: 'production', WHATSAPP_PROVIDER: 'meta' })).toEqual(
      [
        'WHATSAPP_ACCESS_TOKEN',
        'WHATSAPP_APP_SECRETS',
        'WHATSAPP_BUSINESS_ACCOUNT_ID',
        'WHATSAPP_PHONE_NUMBER_ID',
        'WHATSAPP_VERIFY_TOKEN',
      ].sort(),
    );
    expect(
      issuesOf({
        NODE_ENV: 'production',
        ...liveMeta,
        WHATSAPP_APP_SECRETS: 'live_secret,sandbox_whatsapp_app_secret',
        WHATSAPP_API_BASE: 'http://graph.example',
      }),
    ).toEqual(['WHATSAPP_API_BASE', 'WHATSAPP_APP_SECRETS']);
  });

  it('starts in production with live settings, reading both secrets of a rotation', () => {
    const config = loadServiceConfig({ NODE_ENV: 'production', ...liveMeta });
    expect(config.WHATSAPP_APP_SECRETS).toEqual(['live_secret_new', 'live_secret_old']);
  });
});
