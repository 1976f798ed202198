import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDb, createPool, executePrepared, preparedQuery, preparedStatement } from './pool.js';
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

describe('executePrepared', () => {
  // A builder query with snake_case columns and a parameter, as the hot jobs write them.
  const compiled = (target: Kysely<DB>, n: number) =>
    target
      .selectNoFrom([
        sql<bigint>`${n}::bigint * 2`.as('doubledValue'),
        sql<string>`'2026-12-02'::date`.as('on_day'),
      ])
      .compile();

  it('gives the rows Kysely gives (camelCase keys, the pool’s parsers), in a transaction and on any Kysely', async () => {
    const expected = (await db.executeQuery(compiled(db, 21))).rows;
    expect(expected).toEqual([{ doubledValue: 42n, onDay: '2026-12-02' }]);
    expect(await executePrepared(db, compiled(db, 21))).toEqual(expected);
    expect(await executePrepared(db, compiled(db, 4))).toEqual([{ doubledValue: 8n, onDay: '2026-12-02' }]);
    await db.transaction().execute(async (trx) => {
      expect(await executePrepared(trx, compiled(db, 21))).toEqual(expected);
    });
    const plain = new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPool(url, { max: 1 }) }) });
    try {
      // No CamelCasePlugin on this one: the keys as the text names them, as its own queries would.
      expect(await executePrepared(plain, compiled(plain, 21))).toEqual([
        { doubledValue: 42n, on_day: '2026-12-02' },
      ]);
    } finally {
      await plain.destroy();
    }
  });

  it('prepares one statement per text on a connection, whatever the values', async () => {
    const single = createDb(url, { max: 1, applicationName: 'bursar-execute-prepared-test' });
    try {
      for (let n = 0; n < 3; n += 1) await executePrepared(single, compiled(single, n));
      const { rows } = await sql<{ statement: string }>`
        select statement from pg_prepared_statements where name like 'bursar-prepared-%'`.execute(single);
      expect(rows.map((row) => row.statement)).toEqual([compiled(single, 0).sql]);
    } finally {
      await single.destroy();
    }
  });
});

describe('preparedStatement', () => {
  // Named values in a builder query among fixed ones (a literal list, a constant), and a sql template.
  const pick = preparedStatement((target, param: <T>(name: 'low' | 'label') => T) =>
    target
      .selectFrom(sql<{ n: number }>`(select generate_series(1, 6) as n)`.as('s'))
      .select(['s.n', sql<string>`${param('label')}::text || s.n`.as('labelled_n')])
      .where('s.n', '>=', param<number>('low'))
      .where('s.n', 'in', [2, 3, 5])
      .orderBy('s.n'),
  );
  const echo = preparedStatement((target, param: <T>(name: 'value') => T) =>
    sql<{ echoed: string }>`select ${param('value')}::text as echoed, ${'fixed'}::text as fixed_part`.compile(
      target,
    ),
  );

  it('binds each call’s values by name and keeps the fixed ones, on the pool and in a transaction', async () => {
    expect(await pick(db, { low: 3, label: 'n=' })).toEqual([
      { n: 3, labelledN: 'n=3' },
      { n: 5, labelledN: 'n=5' },
    ]);
    expect(await pick(db, { low: 1, label: '#' })).toEqual([
      { n: 2, labelledN: '#2' },
      { n: 3, labelledN: '#3' },
      { n: 5, labelledN: '#5' },
    ]);
    await db.transaction().execute(async (trx) => {
      expect(await pick(trx, { low: 5, label: '' })).toEqual([{ n: 5, labelledN: '5' }]);
    });
    expect(await echo(db, { value: 'a' })).toEqual([{ echoed: 'a', fixedPart: 'fixed' }]);
    expect(await echo(db, { value: 'b' })).toEqual([{ echoed: 'b', fixedPart: 'fixed' }]);
  });
});
