import { createDb } from '@bursar/db';
import { runService } from '@bursar/platform';
import { startWorkers } from './app.js';
import { loadServiceConfig } from './config.js';

await runService({
  name: 'worker',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.WORKER_PORT, host: config.WORKER_HOST }),
  async start({ config, logger, shutdown, redis }) {
    const db = createDb(config.DATABASE_URL, {
      onError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
      applicationName: 'bursar-worker',
    });
    shutdown.add('database', () => db.destroy());
    return startWorkers({ config, logger, db, redis, shutdown }).app;
  },
});
