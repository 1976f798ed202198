import { runService } from '@bursar/platform';
import { createApp } from './app.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'billing-webhook',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.WEBHOOK_PORT }),
  async start({ config, logger, redis, db, outbox }) {
    if (config.PAYMENTS_PROVIDER === 'sandbox') {
      logger.info({ url: `${config.PUBLIC_URL.replace(/\/$/, '')}/webhooks/sandbox` }, 'payment sandbox on');
    }
    return createApp({ config, logger, db, redis, outbox });
  },
});
