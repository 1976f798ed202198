import { whatsAppApi, whatsAppApiBase, type WhatsAppConfig } from './config.js';
import { createGupshupProvider } from './gupshup/client.js';
import { createMetaProvider } from './meta/client.js';
import type { FetchLike } from './provider-http.js';
import type { WhatsAppProvider } from './provider.js';

/**
 * The adapter the config asks for: Meta's Cloud API or Gupshup, at the
 * provider's own base or (sandbox mode, or `WHATSAPP_API_BASE`) elsewhere. In
 * sandbox mode it is the same adapter as in production, pointed at the
 * sandbox in the API shape `WHATSAPP_SANDBOX_API` names, so the code paths a
 * laptop and the tests run are the ones production runs.
 */
export function createWhatsAppProvider(config: WhatsAppConfig, fetchImpl?: FetchLike): WhatsAppProvider {
  const baseUrl = whatsAppApiBase(config);
  if (whatsAppApi(config) === 'gupshup') {
    return createGupshupProvider({
      baseUrl,
      apiKey: config.GUPSHUP_API_KEY,
      appName: config.GUPSHUP_APP_NAME,
      sourceNumber: config.GUPSHUP_SOURCE_NUMBER,
      timeoutMs: config.WHATSAPP_TIMEOUT_MS,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
  }
  return createMetaProvider({
    baseUrl,
    graphVersion: config.WHATSAPP_GRAPH_VERSION,
    phoneNumberId: config.WHATSAPP_PHONE_NUMBER_ID,
    businessAccountId: config.WHATSAPP_BUSINESS_ACCOUNT_ID,
    accessToken: config.WHATSAPP_ACCESS_TOKEN,
    timeoutMs: config.WHATSAPP_TIMEOUT_MS,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}
