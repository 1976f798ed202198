import { runService } from '@bursar/platform';
import { createApp } from './app.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'billing-webhook',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.WEBHOOK_PORT }),
  async start({ config, logger, redis, db }) {
    return createApp({ config, logger, db, redis });
  },
});
