import { runService, serviceAuthenticator } from '@bursar/platform';
import { createApp } from './app.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'notify',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.NOTIFY_PORT }),
  async start(context) {
    const { config, logger, redis, db } = context;
    return createApp({ config, logger, db, redis, authenticator: serviceAuthenticator(context) });
  },
});
