import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, withDatabase } from './pool.js';
import { ensureDatabase, migrateToLatest } from './migrate.js';

/** Prefix of every database the test helpers create; nothing else is ever dropped. */
export const TEST_DATABASE_PREFIX = 'bursar_test_';

/** Databases left behind by a crashed run are removed after this long. */
const STALE_AFTER_SECONDS = 6 * 60 * 60;

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withAdminClient<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A database name that sorts by creation time and cannot collide between runs. */
export function testDatabaseName(kind: string): string {
  return `${TEST_DATABASE_PREFIX}${kind}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
}

/**
 * Creates and migrates a template database for one test run, and removes
 * test databases that crashed runs left behind more than six hours ago.
 * Returns the template's URL; each test file clones it with `cloneTestDatabase`.
 */
export async function createTemplateDatabase(serverUrl: string): Promise<string> {
  await dropStaleTestDatabases(serverUrl);
  const url = withDatabase(serverUrl, testDatabaseName('tpl'));
  await ensureDatabase(url);
  const db = createDb(url, { max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  return url;
}

/** A fresh, migrated database copied from the run's template (fast: a file copy in the server). */
export async function cloneTestDatabase(templateUrl: string): Promise<string> {
  const template = new URL(templateUrl).pathname.slice(1);
  const name = testDatabaseName('f');
  await withAdminClient(templateUrl, (client) =>
    client.query(`create database ${quoteIdent(name)} template ${quoteIdent(template)}`),
  );
  return withDatabase(templateUrl, name);
}

/** Drops a test database, disconnecting whoever is still on it. Refuses any other database. */
export async function dropTestDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name.startsWith(TEST_DATABASE_PREFIX)) throw new Error(`refusing to drop non-test database ${name}`);
  await withAdminClient(url, async (client) => {
    // A pool's end() resolves before its sockets have closed. A plain drop waits (up to 5 s) for
    // those sessions to finish closing; forcing at once would terminate them mid-close, and their
    // pool would raise the termination (57P01) as an uncaught 'error' in the test process.
    try {
      await client.query(`drop database if exists ${quoteIdent(name)}`);
    } catch (error) {
      // 55006 object_in_use: someone is still connected after the wait; disconnect them.
      if ((error as { code?: string }).code !== '55006') throw error;
      await client.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    }
  });
}

async function dropStaleTestDatabases(serverUrl: string): Promise<void> {
  await withAdminClient(serverUrl, async (client) => {
    // "Stale" by the server's clock, not this process's: a run under a faked clock (`pnpm
    // test:future`) would otherwise see every other run's databases as years old and drop them.
    const { rows: clock } = await client.query<{ now: string }>(
      'select extract(epoch from now())::bigint::text as now',
    );
    const cutoff = Number(clock[0]!.now) - STALE_AFTER_SECONDS;
    const { rows } = await client.query<{ datname: string }>(
      'select datname from pg_database where datname like $1',
      [`${TEST_DATABASE_PREFIX}%`],
    );
    for (const { datname } of rows) {
      const created = Number(/_(\d{10})_[0-9a-f]{8}$/.exec(datname)?.[1]);
      if (Number.isFinite(created) && created < cutoff) {
        await client.query(`drop database if exists ${quoteIdent(datname)} with (force)`);
      }
    }
  });
}
