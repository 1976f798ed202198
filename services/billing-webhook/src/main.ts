import { createDb } from '@bursar/db';
import { runService } from '@bursar/platform';
import { createApp } from './app.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'billing-webhook',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.WEBHOOK_PORT }),
  async start({ config, logger, shutdown, redis }) {
    const db = createDb(config.DATABASE_URL, {
      onError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
      applicationName: 'bursar-billing-webhook',
    });
    shutdown.add('database', () => db.destroy());
    return createApp({ config, logger, db, redis });
  },
});
