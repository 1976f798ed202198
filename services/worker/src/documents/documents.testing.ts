/**
 * Test helper: the document dependencies a worker runs with, over filesystem
 * storage in a temporary directory removed when the file's tests end. Only
 * tests import this file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll } from 'vitest';
import type { DB } from '@bursar/db';
import { createDocumentDeps, type PublishDeps } from '@bursar/documents';
import { payPageUrl } from '@bursar/payments';
import { createLogger, type Logger } from '@bursar/platform';
import { createStorage } from '@bursar/storage';

export function testDocuments(
  db: Kysely<DB>,
  logger: Logger = createLogger('worker-test', 'silent'),
): PublishDeps & { storageDir: string } {
  const storageDir = mkdtempSync(join(tmpdir(), 'bursar-worker-storage-'));
  afterAll(() => rmSync(storageDir, { recursive: true, force: true }));
  const deps = createDocumentDeps({
    db,
    storage: createStorage({ STORAGE_DRIVER: 'fs', STORAGE_DIR: storageDir } as Parameters<
      typeof createStorage
    >[0]),
    payLink: (invoiceId) => payPageUrl('http://127.0.0.1:8080', 'test_pay_link_secret_0123', invoiceId),
    logger,
  });
  return { ...deps, storageDir };
}
