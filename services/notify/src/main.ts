import { runService, serviceAuthenticator } from '@bursar/platform';
import { createWhatsAppProvider } from '@bursar/whatsapp';
import { createApp } from './app.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'notify',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.NOTIFY_PORT }),
  async start(context) {
    const { config, logger, redis, db, outbox } = context;
    return createApp({
      config,
      logger,
      db,
      redis,
      outbox,
      authenticator: serviceAuthenticator(context),
      provider: createWhatsAppProvider(config),
    });
  },
});
