import { JOBS } from '@bursar/contracts';
import { createDocumentDeps } from '@bursar/documents';
import { payPageUrl } from '@bursar/payments';
import { runService } from '@bursar/platform';
import { createStorage } from '@bursar/storage';
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
    const documents = createDocumentDeps({
      db,
      storage: createStorage(config),
      payLink: (invoiceId) => payPageUrl(config.PUBLIC_URL, config.PAY_LINK_SECRET, invoiceId),
      logger,
    });
    return startWorkers({ config, logger, db, redis, shutdown, outbox, documents, catalog: JOBS, processors })
      .app;
  },
});
