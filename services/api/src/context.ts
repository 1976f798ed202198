import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { PublishDeps } from '@bursar/documents';
import type { Logger, OutboxRelay, UserStates } from '@bursar/platform';
import type { Config } from './config.js';
import type { SigningKeys } from './auth/keys.js';
import type { LoginLimiter } from './auth/rate-limit.js';

/** What every feature's routes receive: built once in `createApp`, passed down explicitly (no container). */
export interface ApiContext {
  config: Config;
  logger: Logger;
  db: Kysely<DB>;
  redis: Redis;
  keys: SigningKeys;
  loginLimiter: LoginLimiter;
  /** Users' current role and status; features that change a user forget them here after commit. */
  userStates: UserStates;
  /** The process's outbox relay: kicked after a commit that enqueued jobs. */
  outbox: Pick<OutboxRelay, 'kick'>;
  /** Object storage, the logo cache and the pay-link signer, for documents. */
  documents: PublishDeps;
}
