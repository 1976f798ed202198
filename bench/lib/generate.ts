/**
 * Scale-factor data for benchmarks: `generate({ scale, seed, databaseUrl })`
 * fills a migrated database with schools, staff, classes, students,
 * guardians and their links. The same scale and seed give the same rows,
 * ids included, so two runs (or two machines) measure the same data.
 *
 * CLI: `tsx bench/lib/generate.ts --scale 1 [--seed 1] [--db <url>] [--reset]`
 *
 * Rows are produced inside PostgreSQL (`insert … select … generate_series`),
 * not sent over the wire, so scale 1 takes a few seconds. Ids are md5 hashes
 * of `(seed, entity, key)`, so a child row computes its parent's id without a
 * join, and every "random" choice is a hash of the same key.
 *
 * Adding an entity (invoices, payments…): add its counts to `SchoolPlan`/
 * `planCounts`, and append an `EntityGenerator` to `GENERATORS` after the
 * entities it references. Nothing else changes.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { migrate } from '../../packages/db/src/cli.js';
import { createPool, databaseName } from '../../packages/db/src/pool.js';

type Pool = ReturnType<typeof createPool>;
const connectClient = (pool: Pool) => pool.connect();
type Client = Awaited<ReturnType<typeof connectClient>>;

/** Counts for one school; `no` is 1-based and part of every key derived for its rows. */
export interface SchoolPlan {
  no: number;
  students: number;
  classes: number;
  guardians: number;
  teachers: number;
}

export interface Plan {
  scale: number;
  seed: number;
  academicYear: string;
  /** Stored in every generated user; no password verifies against the default. */
  passwordHash: string;
  schools: SchoolPlan[];
}

/** At scale 1: 20 schools, 50,000 students, one school of 5,000, classes of about 40. */
export const BASE = {
  schools: 20,
  students: 50_000,
  largestSchoolStudents: 5_000,
  studentsPerClass: 40,
  guardiansPerStudent: 0.8,
  classesPerTeacher: 2,
  accountantsPerSchool: 2,
} as const;

/** A small seeded PRNG (mulberry32): same seed, same sequence, on every platform. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Per-school counts. School 1 is the large one (10% of all students); the
 * others share the rest in seeded proportions between 0.6x and 1.4x of an
 * even share, so sizes vary but none comes near the large school (below
 * scale 0.5 there are too few schools for that to hold; use such scales for
 * smoke runs only).
 */
export function planCounts(
  scale: number,
  seed: number,
  options: Partial<Omit<Plan, 'scale' | 'seed'>> = {},
): Plan {
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1_000) throw new Error('scale must be in (0, 1000]');
  const schoolCount = Math.max(1, Math.round(BASE.schools * scale));
  const totalStudents = Math.max(schoolCount, Math.round(BASE.students * scale));
  const largest = schoolCount === 1 ? totalStudents : Math.round(BASE.largestSchoolStudents * scale);

  const random = prng(seed);
  const weights = Array.from({ length: schoolCount - 1 }, () => 0.6 + 0.8 * random());
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const rest = totalStudents - largest;
  const sizes = [largest, ...weights.map((w) => Math.max(1, Math.floor((rest * w) / weightSum)))];
  // Hand the rounding remainder out one by one so the total is exact.
  let remainder = totalStudents - sizes.reduce((a, b) => a + b, 0);
  for (let i = 1; remainder > 0 && sizes.length > 1; i = (i % (sizes.length - 1)) + 1, remainder--)
    sizes[i]! += 1;

  return {
    scale,
    seed,
    academicYear: options.academicYear ?? '2026-27',
    passwordHash: options.passwordHash ?? '!bench-no-login',
    schools: sizes.map((students, i) => {
      const classes = Math.max(1, Math.ceil(students / BASE.studentsPerClass));
      return {
        no: i + 1,
        students,
        classes,
        guardians: Math.max(1, Math.round(students * BASE.guardiansPerStudent)),
        teachers: Math.max(1, Math.ceil(classes / BASE.classesPerTeacher)),
      };
    }),
  };
}

function sumOf(plan: Plan, pick: (school: SchoolPlan) => number): number {
  return plan.schools.reduce((total, school) => total + pick(school), 0);
}

/**
 * One table's rows. `insert` runs inside the generation transaction, with the
 * temp table `bench_plan` (one row per `SchoolPlan`, plus `school_id`) and the
 * helpers `pg_temp.bench_id(text)` (uuid) and `pg_temp.bench_hash(text)` (0..2^32-1).
 * Statements run through `insert`, which passes the seed as `$1` (text) to prefix keys.
 */
export interface EntityGenerator {
  table: string;
  /** Rows `insert` must produce for this plan, checked after it runs; omit when hashes decide. */
  expected?(plan: Plan): number;
  insert(client: Client, plan: Plan): Promise<number>;
}

/** Runs one `insert … select`; the seed is `$1`, `params` follow as `$2`, `$3`… */
async function insert(client: Client, plan: Plan, sql: string, params: unknown[] = []): Promise<number> {
  const result = await client.query(sql, [String(plan.seed), ...params]);
  return result.rowCount ?? 0;
}

// Name pools: picked by hash, so they are part of the deterministic output.
const FIRST_NAMES = [
  'Aarav', 'Aditi', 'Ananya', 'Arjun', 'Diya', 'Ishaan', 'Kavya', 'Meera', 'Neha', 'Nikhil',
  'Priya', 'Rahul', 'Riya', 'Rohan', 'Saanvi', 'Sai', 'Tanvi', 'Vihaan', 'Vivaan', 'Zara',
  'Fatima', 'Imran', 'Joseph', 'Maria', 'Harpreet', 'Gurpreet', 'Lakshmi', 'Karthik', 'Deepa', 'Amit',
]; // prettier-ignore
const LAST_NAMES = [
  'Sharma', 'Verma', 'Iyer', 'Nair', 'Reddy', 'Patel', 'Shah', 'Gupta', 'Singh', 'Khan',
  'Das', 'Bose', 'Menon', 'Pillai', 'Rao', 'Joshi', 'Kulkarni', 'Mehta', 'Fernandes', 'DSouza',
]; // prettier-ignore
const SCHOOL_NAMES = [
  'Green Valley', 'Sunrise', 'St. Anne', 'Little Flower', 'Modern', 'Lotus', 'Riverside', 'Heritage',
  'Bluebell', 'Pinewood', 'Silver Oak', 'Cedar', 'Banyan', 'Harmony', 'Vidya Niketan', 'Gyan Jyoti',
]; // prettier-ignore

/** SQL picking an element of a text array literal by a hash expression. */
function pick(values: readonly string[], hashSql: string): string {
  const literal = `array[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',')}]`;
  return `(${literal})[1 + (${hashSql}) % ${values.length}]`;
}

/** Tables in foreign-key order; extend here. */
export const GENERATORS: EntityGenerator[] = [
  {
    table: 'schools',
    expected: (plan) => plan.schools.length,
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into schools (id, name, currency, timezone, locale, address, contact_email, contact_phone)
         select p.school_id,
                ${pick(SCHOOL_NAMES, `pg_temp.bench_hash($1 || ':school-name:' || p.no)`)} || ' School ' || p.no,
                'INR', 'Asia/Kolkata', 'en-IN',
                p.no || ' School Road, Bengaluru',
                'office@school-' || p.no || '.bench.test',
                '+9180' || lpad(p.no::text, 8, '0')
         from bench_plan p order by p.no`,
      ),
  },
  {
    table: 'users',
    // One school admin, accountants and teachers per school, plus one platform admin.
    expected: (plan) => 1 + sumOf(plan, (s) => 1 + BASE.accountantsPerSchool + s.teachers),
    insert: async (client, plan) =>
      (await insert(
        client,
        plan,
        `insert into users (id, school_id, email, name, password_hash, role)
         select pg_temp.bench_id($1 || ':user:' || p.no || ':' || r.role || ':' || i),
                p.school_id,
                replace(r.role, '_', '-') || '-' || i || '@school-' || p.no || '.bench.test',
                ${pick(FIRST_NAMES, `pg_temp.bench_hash($1 || ':user-first:' || p.no || r.role || i)`)} || ' ' ||
                ${pick(LAST_NAMES, `pg_temp.bench_hash($1 || ':user-last:' || p.no || r.role || i)`)},
                $2, r.role
         from bench_plan p
         cross join lateral (values ('school_admin', 1), ('accountant', $3::int), ('teacher', p.teachers)) r(role, n)
         cross join lateral generate_series(1, r.n) i
         order by p.no, r.role, i`,
        [plan.passwordHash, BASE.accountantsPerSchool],
      )) +
      (await insert(
        client,
        plan,
        `insert into users (id, school_id, email, name, password_hash, role)
         values (pg_temp.bench_id($1 || ':user:platform-admin'), null, 'platform-admin@bench.test',
                 'Platform Admin', $2, 'platform_admin')`,
        [plan.passwordHash],
      )),
  },
  {
    table: 'classes',
    // Class c is grade (c % 12) + 1, section c / 12 as letters: A..Z, then AA..ZZ.
    expected: (plan) => sumOf(plan, (s) => s.classes),
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into classes (id, school_id, name, grade, section, academic_year)
         select pg_temp.bench_id($1 || ':class:' || p.no || ':' || c),
                p.school_id,
                'Grade ' || (c % 12 + 1),
                (c % 12 + 1)::text,
                case when c / 12 < 26 then chr(65 + c / 12)
                     when c / 12 < 702 then chr(64 + (c / 12) / 26) || chr(65 + (c / 12) % 26)
                     else 'S' || (c / 12) end,
                $2
         from bench_plan p cross join lateral generate_series(0, p.classes - 1) c
         order by p.no, c`,
        [plan.academicYear],
      ),
  },
  {
    table: 'students',
    // Round-robin over classes keeps every class at or under 40; about 3% have left.
    expected: (plan) => sumOf(plan, (s) => s.students),
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into students (id, school_id, class_id, first_name, last_name, admission_no, status)
         select pg_temp.bench_id($1 || ':student:' || p.no || ':' || k),
                p.school_id,
                pg_temp.bench_id($1 || ':class:' || p.no || ':' || (k % p.classes)),
                ${pick(FIRST_NAMES, `pg_temp.bench_hash($1 || ':student-first:' || p.no || ':' || k)`)},
                ${pick(LAST_NAMES, `pg_temp.bench_hash($1 || ':student-last:' || p.no || ':' || k)`)},
                'A' || lpad((k + 1)::text, 6, '0'),
                case when pg_temp.bench_hash($1 || ':student-status:' || p.no || ':' || k) % 100 < 3
                     then 'left' else 'active' end
         from bench_plan p cross join lateral generate_series(0, p.students - 1) k
         order by p.no, k`,
      ),
  },
  {
    table: 'guardians',
    // Phones are unique within a school (the constraint) and across the generated schools.
    expected: (plan) => sumOf(plan, (s) => s.guardians),
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into guardians (id, school_id, name, phone, whatsapp_opt_in, preferred_language)
         select pg_temp.bench_id($1 || ':guardian:' || p.no || ':' || g),
                p.school_id,
                ${pick(FIRST_NAMES, `pg_temp.bench_hash($1 || ':guardian-first:' || p.no || ':' || g)`)} || ' ' ||
                ${pick(LAST_NAMES, `pg_temp.bench_hash($1 || ':guardian-last:' || p.no || ':' || g)`)},
                '+91' || (6000000000 + (p.no::bigint * 1000003 + g) % 4000000000)::text,
                pg_temp.bench_hash($1 || ':guardian-opt-in:' || p.no || ':' || g) % 100 < 85,
                ${pick(['en', 'en', 'en', 'hi', 'ta', 'kn'], `pg_temp.bench_hash($1 || ':guardian-lang:' || p.no || ':' || g)`)}
         from bench_plan p cross join lateral generate_series(0, p.guardians - 1) g
         order by p.no, g`,
      ),
  },
  {
    table: 'student_guardians',
    // Student k's payer is guardian k % G, so guardians below S - G have two children (siblings);
    // half the students also have a second guardian, (k + G/2) % G, never the same one.
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into student_guardians (school_id, student_id, guardian_id, relation, is_primary_payer)
         select p.school_id,
                pg_temp.bench_id($1 || ':student:' || p.no || ':' || k),
                pg_temp.bench_id($1 || ':guardian:' || p.no || ':' || link.g),
                link.relation, link.primary_payer
         from bench_plan p
         cross join lateral generate_series(0, p.students - 1) k
         cross join lateral (select pg_temp.bench_hash($1 || ':link:' || p.no || ':' || k) as h) hk
         cross join lateral (
           select k % p.guardians as g,
                  case when hk.h % 2 = 0 then 'mother' else 'father' end as relation,
                  true as primary_payer
           union all
           select (k + p.guardians / 2) % p.guardians,
                  case when hk.h % 2 = 0 then 'father' else 'mother' end,
                  false
           where p.guardians >= 2 and (hk.h / 2) % 2 = 0
         ) link
         order by p.no, k, link.primary_payer desc`,
      ),
  },
];

/** The tables `GENERATORS` fill, children first, for `--reset`. */
const RESET_ORDER = GENERATORS.map((g) => g.table).reverse();

async function prepareSession(client: Client, plan: Plan): Promise<void> {
  await client.query(`
    create function pg_temp.bench_id(key text) returns uuid
      language sql immutable as $$ select md5(key)::uuid $$;
    create function pg_temp.bench_hash(key text) returns bigint
      language sql immutable as $$ select ('x' || substr(md5(key), 1, 8))::bit(32)::bigint $$;
    create temp table bench_plan (
      no int primary key, school_id uuid not null,
      students int not null, classes int not null, guardians int not null, teachers int not null
    ) on commit drop;
  `);
  await client.query(
    `insert into bench_plan (no, school_id, students, classes, guardians, teachers)
     select no, pg_temp.bench_id($1 || ':school:' || no), students, classes, guardians, teachers
     from unnest($2::int[], $3::int[], $4::int[], $5::int[], $6::int[]) as t(no, students, classes, guardians, teachers)`,
    [
      String(plan.seed),
      plan.schools.map((s) => s.no),
      plan.schools.map((s) => s.students),
      plan.schools.map((s) => s.classes),
      plan.schools.map((s) => s.guardians),
      plan.schools.map((s) => s.teachers),
    ],
  );
}

export interface GenerateOptions {
  scale: number;
  seed?: number;
  /** A migrated database; see the CLI for creating and migrating one. */
  databaseUrl: string;
  /** Empty the generated tables first (cascading to anything that references them). */
  reset?: boolean;
  academicYear?: string;
  passwordHash?: string;
  log?: (line: string) => void;
}

export interface GenerateReport {
  plan: Plan;
  tables: { table: string; rows: number; ms: number }[];
  totalMs: number;
}

/** Inserts the plan's rows in one transaction: all of them or none. */
export async function generate(options: GenerateOptions): Promise<GenerateReport> {
  const log = options.log ?? (() => {});
  const plan = planCounts(options.scale, options.seed ?? 1, {
    ...(options.academicYear ? { academicYear: options.academicYear } : {}),
    ...(options.passwordHash ? { passwordHash: options.passwordHash } : {}),
  });
  const pool = createPool(options.databaseUrl, { max: 1, applicationName: 'bursar-bench-generate' });
  const started = performance.now();
  const tables: GenerateReport['tables'] = [];
  const client = await connectClient(pool);
  try {
    await client.query('begin');
    // generate_series row estimates make the planner JIT-compile these one-off statements, which costs
    // more than it saves (hundreds of ms for a 700-row insert).
    await client.query('set local jit = off');
    if (options.reset) {
      await client.query(`truncate ${RESET_ORDER.join(', ')} cascade`);
    } else {
      const { rows } = await client.query<{ taken: boolean }>(
        'select exists (select 1 from schools) as taken',
      );
      if (rows[0]?.taken) {
        throw new Error(
          `${databaseName(options.databaseUrl)} already has schools; pass --reset to replace them`,
        );
      }
    }
    await prepareSession(client, plan);
    for (const generator of GENERATORS) {
      const tableStart = performance.now();
      const rows = await generator.insert(client, plan);
      const expected = generator.expected?.(plan);
      if (expected !== undefined && rows !== expected) {
        throw new Error(`${generator.table}: inserted ${rows} rows, plan says ${expected}`);
      }
      const ms = performance.now() - tableStart;
      tables.push({ table: generator.table, rows, ms });
      log(
        `  ${generator.table.padEnd(18)} ${String(rows).padStart(9)} rows  ${ms.toFixed(0).padStart(6)} ms`,
      );
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  try {
    const analyzeStart = performance.now();
    // Fresh statistics, so the first benchmark query is planned like later ones.
    await pool.query(`analyze ${GENERATORS.map((g) => g.table).join(', ')}`);
    log(
      `  ${'analyze'.padEnd(18)} ${''.padStart(14)}  ${(performance.now() - analyzeStart).toFixed(0).padStart(6)} ms`,
    );
  } finally {
    await pool.end();
  }
  return { plan, tables, totalMs: performance.now() - started };
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      db: { type: 'string', default: DEFAULT_URL },
      reset: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'no-migrate': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: tsx bench/lib/generate.ts [--scale 1] [--seed 1] [--db <url>] [--reset [--force]] [--no-migrate]',
    );
    return;
  }
  const scale = Number(values.scale);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
    throw new Error('--seed must be an integer 0..2^32-1');
  const name = databaseName(values.db);
  // Emptying tables is only routine in a benchmark database.
  if (values.reset && !name.startsWith('bursar_bench') && !values.force) {
    throw new Error(
      `--reset empties tables; ${name} is not a bursar_bench* database (add --force if you mean it)`,
    );
  }
  if (!values['no-migrate']) await migrate(values.db);
  const plan = planCounts(scale, seed);
  const biggest = Math.max(...plan.schools.map((s) => s.students));
  console.log(
    `generating scale ${scale}, seed ${seed} into ${name}: ${plan.schools.length} schools, ` +
      `${sumOf(plan, (s) => s.students)} students (largest school ${biggest})`,
  );
  const report = await generate({
    scale,
    seed,
    databaseUrl: values.db,
    reset: values.reset,
    log: console.log,
  });
  const rows = report.tables.reduce((total, t) => total + t.rows, 0);
  console.log(`done: ${rows} rows in ${(report.totalMs / 1000).toFixed(1)} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
