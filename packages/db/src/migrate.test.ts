import { sql, type Kysely, type MigrationResultSet } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codegen } from './cli.js';
import { ensureDatabase, migrateDatabase, migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';
import { createDb, withDatabase } from './pool.js';
import { dropTestDatabase, testDatabaseName } from './testing.js';

/** The server the run's template lives on; this file makes its own databases there. */
const serverUrl = withDatabase(inject('templateDatabaseUrl'), 'postgres');

const EXPECTED_TABLES = [
  'allocations',
  'audit_log',
  'classes',
  'fee_plan_heads',
  'fee_plan_instalments',
  'fee_plans',
  'guardians',
  'idempotency_keys',
  'invoice_counters',
  'invoice_lines',
  'invoices',
  'payments',
  'refresh_tokens',
  'refunds',
  'schools',
  'student_guardians',
  'students',
  'users',
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
async function publicTables(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ tableName: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE'
    order by table_name
  `.execute(db);
  return rows.map((row) => row.tableName);
}

describe('migrations on a brand-new database', () => {
  const url = withDatabase(serverUrl, testDatabaseName('mig'));
  let db: Kysely<unknown>;
  let created: boolean;
  let tablesBefore: string[];
  let first: MigrationResultSet;

  // The first run happens once here, so each test below can run alone or in any order.
  beforeAll(async () => {
    created = await ensureDatabase(url);
    db = createDb(url, { max: 2, applicationName: 'bursar-migrate-test' }) as Kysely<unknown>;
    tablesBefore = await publicTables(db);
    first = await migrateToLatest(db);
  });

  afterAll(async () => {
    await db?.destroy();
    await dropTestDatabase(url);
  });

  it('starts from a database that did not exist and has no tables', () => {
    expect(created).toBe(true);
    expect(tablesBefore).toEqual([]);
  });

  it('applies every migration listed in migrations/index.ts, in order', async () => {
    const { results = [] } = first;
    expect(results.map((r) => r.migrationName)).toEqual(Object.keys(migrations));
    expect(results.every((r) => r.status === 'Success' && r.direction === 'Up')).toBe(true);

    const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    expect(rows.map((row) => row.name)).toEqual(Object.keys(migrations).sort());
  });

  it('creates the expected tables', async () => {
    expect(await publicTables(db)).toEqual(
      expect.arrayContaining([...EXPECTED_TABLES, 'kysely_migration', 'kysely_migration_lock']),
    );
  });

  it('applies nothing the second time', async () => {
    const { results } = await migrateToLatest(db);
    expect(results).toEqual([]);
  });

  it('reports an existing, migrated database as such through the CLI path', async () => {
    expect(await ensureDatabase(url)).toBe(false);
    expect(await migrateDatabase(url)).toEqual({ created: false, applied: [] });
  });
});

describe('schema.ts', () => {
  // Spawns `pnpm exec kysely-codegen --verify` against a freshly migrated scratch database.
  it('matches what the migrations produce (kysely-codegen --verify)', async () => {
    await expect(codegen(serverUrl, true)).resolves.toBeUndefined();
  }, 120_000);
});
