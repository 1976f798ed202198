import { createUserStates, runService } from '@bursar/platform';
import { createApp } from './app.js';
import { loadSigningKeys } from './auth/keys.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'api',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.API_PORT }),
  async start({ config, logger, shutdown, redis, db }) {
    const keys = await loadSigningKeys({
      pem: config.JWT_PRIVATE_KEY,
      keyFile: config.JWT_KEY_FILE,
      production: config.NODE_ENV === 'production',
    });
    const userStates = createUserStates({ db, listenUrl: config.DATABASE_URL, logger });
    shutdown.add('user change listener', () => userStates.close());
    return createApp({ config, logger, db, redis, keys, userStates });
  },
});
