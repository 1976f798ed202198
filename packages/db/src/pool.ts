import { CamelCasePlugin, CompiledQuery, Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { DB } from './schema.js';

/**
 * Type parsers for this project's pools. `int8` (money, counts) arrives as
 * bigint, never through a float; `date` stays the `YYYY-MM-DD` string it is
 * in the database, so no time zone can shift a due date.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => BigInt(value);
    if (oid === pg.types.builtins.DATE) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  },
};

export interface PoolOptions {
  /** Maximum connections in the pool. */
  max?: number;
  /** Reported as `application_name` in `pg_stat_activity`. */
  applicationName?: string;
  /** How long a new connection may take before failing, in ms. */
  connectionTimeoutMillis?: number;
  /**
   * Called when an idle pooled connection fails (PostgreSQL restarted, a
   * network blip). The pool drops that connection and opens a new one on
   * demand; without a listener the error would crash the process.
   */
  onError?: (error: Error) => void;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'bursar',
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    // Request-sized queries: parallel workers cost more processes than they save here. JIT
    // compilation kicks in on the planner's cost estimate, which a report's CTEs inflate far
    // past what they read: compiling cost more than running (a school's aging report went
    // from ~270 ms to ~150 ms, the analytics dashboard from seconds to under one without it).
    options: '-c max_parallel_workers_per_gather=0 -c jit=off',
    types,
  });
  pool.on('error', (error) => options.onError?.(error));
  return pool;
}

/** The pool under each Kysely instance `createDb` made, for {@link preparedQuery}. */
const pools = new WeakMap<Kysely<DB>, pg.Pool>();

/** The one camelCase mapping: every `createDb` Kysely's, and {@link executePrepared}'s rows. */
const camelCase = new CamelCasePlugin();

/** A Kysely instance over a new pool; columns are snake_case in SQL and camelCase in TypeScript. */
export function createDb(url: string, options: PoolOptions = {}): Kysely<DB> {
  const pool = createPool(url, options);
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    plugins: [camelCase],
  });
  pools.set(db, pool);
  return db;
}

/**
 * Runs a hot read as a named prepared statement: each pooled connection
 * parses and plans `text` once and then only binds and executes it, and no
 * query builder runs per call. For the few reads every page makes (a
 * student's statement); `name` must be unique to `text`. Columns come back
 * as `text` names them (alias them in camelCase), with the pool's type
 * parsers. Inside a transaction, or on a Kysely `createDb` did not make, it
 * is an ordinary query with the same text and the same rows.
 */
export async function preparedQuery<Row>(
  db: Kysely<DB> | Transaction<DB>,
  query: { name: string; text: string },
  values: unknown[],
): Promise<Row[]> {
  const pool = db.isTransaction ? undefined : pools.get(db as Kysely<DB>);
  if (pool)
    return (await pool.query<Row & pg.QueryResultRow>({ name: query.name, text: query.text, values })).rows;
  return (await db.executeQuery<Row>(CompiledQuery.raw(query.text, values))).rows;
}

/** Statement names by SQL text, for {@link executePrepared}: one per distinct text in the process. */
const preparedNames = new Map<string, string>();
const MAX_PREPARED_TEXTS = 200;

/**
 * Runs a compiled Kysely query as a named prepared statement, with the rows
 * Kysely would give (camelCase keys): each pooled connection parses and plans
 * its text once, then only binds and executes. Planning a statement of several
 * joins costs PostgreSQL several times what running it does (a WhatsApp send's
 * six-table read: 0.63 ms to plan, 0.14 ms to run), so the statements a hot
 * job runs on every call go through here. The name is given per distinct
 * text; a query whose text varies with its input (an `in` list of varying
 * length) would prepare a statement per variant, so past a bound new texts
 * run unprepared. In a transaction, or on a Kysely `createDb` did not make,
 * it is the ordinary query.
 */
export async function executePrepared<Row>(
  db: Kysely<DB> | Transaction<DB>,
  query: CompiledQuery<Row>,
): Promise<Row[]> {
  const pool = db.isTransaction ? undefined : pools.get(db as Kysely<DB>);
  let name = pool && preparedNames.get(query.sql);
  if (pool && !name && preparedNames.size < MAX_PREPARED_TEXTS) {
    name = `bursar-prepared-${preparedNames.size + 1}`;
    preparedNames.set(query.sql, name);
  }
  if (!pool || !name) return (await db.executeQuery(query)).rows;
  const result = await pool.query({ name, text: query.sql, values: [...query.parameters] });
  const mapped = await camelCase.transformResult({
    queryId: query.queryId,
    result: { rows: result.rows },
  });
  return mapped.rows as Row[];
}

/** A value a {@link preparedStatement} fills in on each call. */
class Parameter {
  constructor(readonly name: string) {}
}

/**
 * A Kysely query built and compiled once per Kysely instance, then run as a
 * named prepared statement ({@link executePrepared}) with only its
 * parameters bound on each call: no query builder, no plugin transform, no
 * compiler, and no PostgreSQL planning per call. `build` writes the query
 * with `param('name')` where a call's value goes (everything else in it is
 * fixed: literals, lists, the shape); each call gives `values` by name. A
 * `sql` template returns its `.compile(db)`.
 *
 *   const claim = preparedStatement((db, param) =>
 *     db.updateTable('messages').set({ status: 'sending' }).where('id', '=', param('id')).returning('id'));
 *   await claim(db, { id });
 */
export function preparedStatement<Row, Names extends string>(
  build: (
    db: Kysely<DB>,
    param: <T = never>(name: Names) => T,
  ) => { compile(): CompiledQuery<Row> } | CompiledQuery<Row>,
): (db: Kysely<DB> | Transaction<DB>, values: Record<Names, unknown>) => Promise<Row[]> {
  const compiled = new WeakMap<Kysely<DB>, CompiledQuery<Row>>();
  return (db, values) => {
    let template = compiled.get(db);
    if (!template) {
      const built = build(db, (name) => new Parameter(name) as never);
      template = 'compile' in built ? built.compile() : built;
      compiled.set(db, template);
    }
    const parameters = template.parameters.map((value) =>
      value instanceof Parameter ? values[value.name as Names] : value,
    );
    return executePrepared(db, { ...template, parameters });
  };
}

/** A database URL with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The database name a URL points at. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  return name;
}

/** A readiness probe: resolves when the database answers a trivial query. */
export function databaseCheck(db: Kysely<DB>): () => Promise<unknown> {
  return () => sql`select 1`.execute(db);
}
