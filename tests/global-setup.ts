import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { createTemplateDatabase, dropTestDatabase } from '@bursar/db/testing';
import {
  ensureCommand,
  postgresAnswers,
  redisAnswers,
  startEmbeddedPostgres,
  startLocalRedis,
} from '../scripts/lib/dependencies.js';

const dataDir = join(fileURLToPath(new URL('..', import.meta.url)), '.data', 'test');

/**
 * Once per test run: a migrated template database that every test file clones
 * (so files get fresh data and never touch the developer's `bursar` database).
 * TEST_DATABASE_URL / TEST_REDIS_URL point the suite at other servers; where
 * nothing answers, a project-local PostgreSQL and Redis are started for the run.
 */
export default async function setup(project: TestProject) {
  // The document tests read generated PDFs back as a reader would.
  ensureCommand(
    'pdftotext',
    { apt: 'poppler-utils', brew: 'poppler' },
    'the PDF tests read documents with it',
  );
  const stoppers: (() => Promise<void>)[] = [];
  let serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await postgresAnswers(serverUrl))) {
    const local = await startEmbeddedPostgres(dataDir, serverUrl.replace(/:\d+\//, ':54329/'));
    stoppers.push(local.stop);
    serverUrl = local.url;
  }
  if (!(await redisAnswers(redisUrl))) stoppers.push((await startLocalRedis(dataDir, redisUrl)).stop);

  const templateUrl = await createTemplateDatabase(serverUrl);
  project.provide('templateDatabaseUrl', templateUrl);
  project.provide('redisUrl', redisUrl);
  return async () => {
    await dropTestDatabase(templateUrl);
    for (const stop of stoppers.reverse()) await stop();
  };
}
