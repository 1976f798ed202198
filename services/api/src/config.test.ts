import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bursar/platform';
import { loadServiceConfig } from './config.js';

const LIVE = {
  PAYMENTS_PROVIDER: 'live',
  RAZORPAY_KEY_ID: 'rzp_live_Abc123',
  RAZORPAY_KEY_SECRET: 'live-razorpay-secret',
  RAZORPAY_WEBHOOK_SECRETS: 'whsec-razorpay-live',
  STRIPE_SECRET_KEY: 'sk_live_abc123',
  STRIPE_WEBHOOK_SECRETS: 'whsec_live_abc123',
  PAY_LINK_SECRET: 'live-pay-link-secret-0123456789',
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadServiceConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('api configuration: payments', () => {
  it('defaults to the sandbox outside production', () => {
    const config = loadServiceConfig({ NODE_ENV: 'development' });
    expect(config.PAYMENTS_PROVIDER).toBe('sandbox');
    expect(config.RAZORPAY_KEY_ID).toBe('rzp_test_bursar_sandbox');
  });

  it('refuses to start in production on the sandbox or any development payment credential, naming each variable', () => {
    const error = configError({ NODE_ENV: 'production' });
    expect(error.issues.map((issue) => issue.variable).sort()).toEqual(
      [
        'PAYMENTS_PROVIDER',
        'RAZORPAY_KEY_ID',
        'RAZORPAY_KEY_SECRET',
        'RAZORPAY_WEBHOOK_SECRETS',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRETS',
        'PAY_LINK_SECRET',
      ].sort(),
    );
    // One development value left in is enough, and only that variable is named.
    const one = configError({ NODE_ENV: 'production', ...LIVE, STRIPE_SECRET_KEY: 'sk_test_bursar_sandbox' });
    expect(one.issues.map((issue) => issue.variable)).toEqual(['STRIPE_SECRET_KEY']);
    expect(one.message).not.toContain('live-razorpay-secret');
  });

  it('starts in production with live settings of its own', () => {
    const config = loadServiceConfig({ NODE_ENV: 'production', ...LIVE });
    expect(config.PAYMENTS_PROVIDER).toBe('live');
    expect(config.STRIPE_SECRET_KEY).toBe('sk_live_abc123');
  });
});
