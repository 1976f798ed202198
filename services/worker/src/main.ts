import { JOBS } from '@bursar/contracts';
import { createDocumentDeps } from '@bursar/documents';
import { payPageUrl } from '@bursar/payments';
import { runService } from '@bursar/platform';
import { createStorage } from '@bursar/storage';
import { startWorkers } from './app.js';
import { loadServiceConfig } from './config.js';
import { processors } from './processors.js';
import { createWhatsAppDeps, scheduleReminders } from './whatsapp/deps.js';
import { startReportScheduleSync } from './reports/schedules.js';

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
    const whatsapp = createWhatsAppDeps(config, { redis, shutdown });
    const started = startWorkers({
      config,
      logger,
      db,
      redis,
      shutdown,
      outbox,
      documents,
      whatsapp,
      catalog: JOBS,
      processors,
    });
    if (!config.WORKER_QUEUES || config.WORKER_QUEUES.includes('whatsapp-campaign')) {
      // Redis may still be connecting: the scheduler is set once it answers, and a failure is only logged.
      void scheduleReminders(config, { redis, shutdown }).catch((error: unknown) =>
        logger.warn({ err: error }, 'the reminder schedule could not be set; it is set at the next start'),
      );
    }
    if (!config.WORKER_QUEUES || config.WORKER_QUEUES.includes('kpi-report')) {
      startReportScheduleSync({ db, redis, prefix: config.QUEUE_PREFIX, logger, shutdown });
    }
    return started.app;
  },
});
