import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { Logger, OutboxRelay } from '@bursar/platform';
import type { WhatsAppProvider } from '@bursar/whatsapp';
import type { Config } from './config.js';

/** What every notify feature's routes receive: built once in `createApp`, passed down explicitly. */
export interface NotifyContext {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  /** The process's outbox relay: kicked after a commit that enqueued jobs. */
  outbox: Pick<OutboxRelay, 'kick'>;
  /** The WhatsApp adapter the config names (template submission; the worker sends). */
  provider: WhatsAppProvider;
}
