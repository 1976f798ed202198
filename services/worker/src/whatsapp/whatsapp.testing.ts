/**
 * Test helper: the WhatsApp dependencies a worker runs with, speaking to a
 * sandbox provider at `apiBase` (none given: a closed port, for tests whose
 * processors never send). Only tests import this file.
 */
import { whatsappConfigSchema, createWhatsAppProvider } from '@bursar/whatsapp';
import { documentUrl, payPageUrl } from '@bursar/payments';
import type { WhatsAppDeps } from './context.js';

export const TEST_PUBLIC_URL = 'http://127.0.0.1:8080';
export const TEST_LINK_SECRET = 'test_pay_link_secret_0123';

export function testWhatsAppDeps(
  options: {
    apiBase?: string;
    sendQueue?: WhatsAppDeps['sendQueue'];
    reconcileAfterMs?: number;
    env?: Record<string, string>;
  } = {},
): WhatsAppDeps {
  const config = whatsappConfigSchema.parse({
    WHATSAPP_PROVIDER: 'sandbox',
    WHATSAPP_API_BASE: options.apiBase ?? 'http://127.0.0.1:9',
    ...options.env,
  });
  return {
    provider: createWhatsAppProvider(config),
    businessNumber: config.WHATSAPP_PHONE_NUMBER_ID,
    sendQueue: options.sendQueue ?? { rateLimit: async () => {} },
    reconcileAfterMs: options.reconcileAfterMs ?? 60_000,
    documentUrl: (kind, id) => documentUrl(TEST_PUBLIC_URL, TEST_LINK_SECRET, kind, id),
    payLink: (id) => payPageUrl(TEST_PUBLIC_URL, TEST_LINK_SECRET, id),
  };
}
