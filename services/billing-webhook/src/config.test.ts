import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bursar/platform';
import { loadServiceConfig } from './config.js';

const liveSecrets = {
  PAYMENTS_PROVIDER: 'live',
  RAZORPAY_KEY_ID: 'rzp_live_key',
  RAZORPAY_KEY_SECRET: 'live_key_secret',
  RAZORPAY_WEBHOOK_SECRETS: 'live_whsec_new,live_whsec_old',
  STRIPE_SECRET_KEY: 'sk_live_key',
  STRIPE_WEBHOOK_SECRETS: 'whsec_live',
};

describe('billing-webhook config', () => {
  it('refuses to start in production with the sandbox or development secrets, naming each variable', () => {
    let error: unknown;
    try {
      loadServiceConfig({ NODE_ENV: 'production' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const variables = (error as ConfigError).issues.map((issue) => issue.variable).sort();
    expect(variables).toEqual(
      [
        'PAYMENTS_PROVIDER',
        'RAZORPAY_KEY_ID',
        'RAZORPAY_KEY_SECRET',
        'RAZORPAY_WEBHOOK_SECRETS',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRETS',
      ].sort(),
    );
    expect(() =>
      loadServiceConfig({
        NODE_ENV: 'production',
        ...liveSecrets,
        STRIPE_WEBHOOK_SECRETS: 'whsec_live,whsec_bursar_sandbox',
      }),
    ).toThrow(/STRIPE_WEBHOOK_SECRETS/);
  });

  it('starts in production with live settings, reading both secrets of a rotation', () => {
    const config = loadServiceConfig({ NODE_ENV: 'production', ...liveSecrets });
    expect(config.RAZORPAY_WEBHOOK_SECRETS).toEqual(['live_whsec_new', 'live_whsec_old']);
  });
});
