import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { ObjectStorage } from '@bursar/storage';
import { LogoCache } from './load.js';
import type { PublishDeps } from './publish.js';

/**
 * The document dependencies of one process (the worker renders, the api
 * renders a receipt asked for before the worker got to it): one logo cache and
 * one pay-link signer for every render.
 */
export function createDocumentDeps(options: {
  db: Kysely<DB>;
  storage: ObjectStorage;
  payLink: (invoiceId: string) => string | null;
  logger: { warn: (detail: Record<string, unknown>, message: string) => void };
}): PublishDeps {
  return {
    db: options.db,
    storage: options.storage,
    logos: new LogoCache(options.storage),
    payLink: options.payLink,
    warn: (message, detail) => options.logger.warn(detail, message),
  };
}
