import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDb, createPool, preparedQuery } from './pool.js';
import { cloneTestDatabase, dropTestDatabase } from './testing.js';
import type { DB } from './schema.js';

const url = await cloneTestDatabase(inject('templateDatabaseUrl'));
const db = createDb(url, { max: 2, applicationName: 'bursar-prepared-test' });
afterAll(async () => {
  await db.destroy();
  await dropTestDatabase(url);
});

const QUERY = {
  name: 'bursar-prepared-test-v1',
  text: `select $1::bigint + 1 as "nextValue", $2::date as "onDay", $3::text is null as "noText"`,
};

describe('preparedQuery', () => {
  it('answers the same rows, with the pool’s parsers, as a named statement, in a transaction and on any Kysely', async () => {
    const expected = [{ nextValue: 42n, onDay: '2026-12-02', noText: true }];
    // Twice on the pool: the second time the connection only binds and executes.
    expect(await preparedQuery(db, QUERY, ['41', '2026-12-02', null])).toEqual(expected);
    expect(await preparedQuery(db, QUERY, ['41', '2026-12-02', null])).toEqual(expected);
    await db.transaction().execute(async (trx) => {
      expect(await preparedQuery(trx, QUERY, ['41', '2026-12-02', null])).toEqual(expected);
    });
    const plain = new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPool(url, { max: 1 }) }) });
    try {
      expect(await preparedQuery(plain, QUERY, ['41', '2026-12-02', null])).toEqual(expected);
    } finally {
      await plain.destroy();
    }
  });

  it('prepares the statement once on a connection and reuses it', async () => {
    // One connection, so every call and the check below run in the same session.
    const single = createDb(url, { max: 1, applicationName: 'bursar-prepared-test-single' });
    try {
      for (let call = 0; call < 3; call += 1) await preparedQuery(single, QUERY, ['1', '2026-12-02', 'x']);
      const { rows } = await sql<{ name: string }>`
        select name from pg_prepared_statements where name = ${QUERY.name}`.execute(single);
      expect(rows.map((row) => row.name)).toEqual([QUERY.name]);
    } finally {
      await single.destroy();
    }
  });
});
