import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOBS } from '@bursar/contracts';
import { documentUrl, payPageUrl } from '@bursar/payments';
import { jobOptionsOf, type Shutdown } from '@bursar/platform';
import { createWhatsAppProvider, whatsAppApi } from '@bursar/whatsapp';
import type { Config } from '../config.js';
import type { WhatsAppDeps } from './context.js';

/** How often the reminder scan runs: hourly, so a school's "today" is caught soon after its midnight. */
export const REMINDER_INTERVAL_MS = 60 * 60_000;

/** The WhatsApp dependencies of a worker process, from its config. */
export function createWhatsAppDeps(
  config: Config,
  { redis, shutdown }: { redis: Redis; shutdown: Shutdown },
): WhatsAppDeps {
  const sendQueue = new Queue(JOBS['whatsapp.send'].queue, {
    connection: redis,
    prefix: config.QUEUE_PREFIX,
  });
  shutdown.add('whatsapp send queue', () => sendQueue.close(), 'workers');
  return {
    provider: createWhatsAppProvider(config),
    // Opt-outs are per sending number: Meta's phone number id, or Gupshup's source number.
    businessNumber:
      whatsAppApi(config) === 'meta' ? config.WHATSAPP_PHONE_NUMBER_ID : config.GUPSHUP_SOURCE_NUMBER,
    sendQueue,
    reconcileAfterMs: config.WHATSAPP_RECONCILE_AFTER_MS,
    documentUrl: (kind, subjectId) => documentUrl(config.PUBLIC_URL, config.PAY_LINK_SECRET, kind, subjectId),
    payLink: (invoiceId) => payPageUrl(config.PUBLIC_URL, config.PAY_LINK_SECRET, invoiceId),
  };
}

/**
 * Runs the reminder scan every hour through a BullMQ job scheduler (one per
 * deployment, whichever replica upserts it; repeats are harmless).
 */
export async function scheduleReminders(
  config: Config,
  { redis, shutdown }: { redis: Redis; shutdown: Shutdown },
): Promise<void> {
  const definition = JOBS['whatsapp.reminders'];
  const queue = new Queue(definition.queue, { connection: redis, prefix: config.QUEUE_PREFIX });
  shutdown.add('reminder scheduler queue', () => queue.close(), 'workers');
  await queue.upsertJobScheduler(
    definition.name,
    { every: REMINDER_INTERVAL_MS },
    {
      name: definition.name,
      data: { v: definition.version, payload: {}, trace: {} },
      opts: jobOptionsOf(definition),
    },
  );
}
