import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';
import pg from 'pg';
import { migrations } from './migrations/index.js';
import { createDb, databaseName, withDatabase } from './pool.js';

/** Migrations are listed in code (not read from disk) so they work the same under tsx, vitest and a bundle. */
const provider = { getMigrations: async (): Promise<Record<string, Migration>> => migrations };

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Creates the database `url` points at when it does not exist yet, connecting
 * to the server's `postgres` maintenance database. Safe to call concurrently.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`create database ${quoteIdent(name)}`);
    } catch (error) {
      // 42P04 duplicate_database: another process created it between our check and now.
      if ((error as { code?: string }).code !== '42P04') throw error;
      return false;
    }
    return true;
  } finally {
    await client.end();
  }
}

/** Applies every pending migration; throws with the failing migration's name if one fails. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const cause = result.error instanceof Error ? result.error : new Error(String(result.error));
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause.message}`, { cause });
  }
  return result;
}

/** `pnpm db:migrate`: creates the database if missing, then applies every pending migration. */
export async function migrateDatabase(url: string): Promise<{ created: boolean; applied: string[] }> {
  const created = await ensureDatabase(url);
  const db = createDb(url, { max: 1, applicationName: 'bursar-migrate' });
  try {
    const { results = [] } = await migrateToLatest(db);
    return { created, applied: results.map((r) => r.migrationName) };
  } finally {
    await db.destroy();
  }
}
