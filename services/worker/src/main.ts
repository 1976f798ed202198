import { JOBS } from '@bursar/contracts';
import { runService } from '@bursar/platform';
import { startWorkers } from './app.js';
import { loadServiceConfig } from './config.js';
import { processors } from './processors.js';

await runService({
  name: 'worker',
  loadConfig: loadServiceConfig,
  listenOn: (config) => ({ port: config.WORKER_PORT, host: config.WORKER_HOST }),
  async start({ config, logger, shutdown, redis, db, outbox }) {
    // A catalog job without its processor, or WORKER_QUEUES naming a queue with no job,
    // throws here: runService reports it and exits 1.
    return startWorkers({ config, logger, db, redis, shutdown, outbox, catalog: JOBS, processors }).app;
  },
});
