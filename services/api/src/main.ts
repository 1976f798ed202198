import { createDocumentDeps } from '@bursar/documents';
import { payPageUrl } from '@bursar/payments';
import { createUserStates, runService } from '@bursar/platform';
import { createStorage } from '@bursar/storage';
import { createApp } from './app.js';
import { loadSigningKeys } from './auth/keys.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'api',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.API_PORT }),
  async start({ config, logger, shutdown, redis, db, outbox }) {
    const keys = await loadSigningKeys({
      pem: config.JWT_PRIVATE_KEY,
      keyFile: config.JWT_KEY_FILE,
      production: config.NODE_ENV === 'production',
    });
    const userStates = createUserStates({ db, listenUrl: config.DATABASE_URL, logger });
    shutdown.add('user change listener', () => userStates.close());
    const documents = createDocumentDeps({
      db,
      storage: createStorage(config),
      payLink: (invoiceId) => payPageUrl(config.PUBLIC_URL, config.PAY_LINK_SECRET, invoiceId),
      logger,
    });
    return createApp({ config, logger, db, redis, keys, userStates, outbox, documents });
  },
});
