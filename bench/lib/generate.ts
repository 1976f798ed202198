/**
 * Scale-factor data for benchmarks: `generate({ scale, seed, databaseUrl })`
 * fills a migrated database with schools, staff, classes, students,
 * guardians and their links, and the billing ledger (invoices and their
 * lines, payments, allocations, refunds, invoice counters and the students'
 * running totals). The same scale and seed give the same rows, ids included,
 * so two runs (or two machines) measure the same data. `ensureGenerated`
 * reuses a database generated earlier with the same scale, seed and sources.
 *
 * CLI: `tsx bench/lib/generate.ts --scale 1 [--seed 1] [--db <url>] [--reset | --reuse]`
 *
 * Rows are produced inside PostgreSQL (`insert … select … generate_series`),
 * not sent over the wire. Ids are md5 hashes of `(seed, entity, key)` (made
 * valid UUIDv8s), so a child row computes its parent's id without a join, and
 * every "random" choice is a hash of the same key. Billing rows hash the
 * invoice id: an invoice's lines, total, paid share, payment split and refund
 * are all functions of it (`BILLING_FUNCTIONS`), so each table's insert
 * recomputes exactly what the others assumed. Before the commit,
 * `verifyForeignKeys` and `verifyLedger` check the result.
 *
 * Adding an entity (fee plans…): add its counts to `SchoolPlan`/`planCounts`,
 * append an `EntityGenerator` to `GENERATORS` after the entities it
 * references, and add its invariants to `LEDGER_CHECKS`.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../../packages/db/src/cli.js';
import { createPool, databaseName, withDatabase } from '../../packages/db/src/pool.js';
import { processCpuSeconds } from './cpu.js';

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
  /** 10 to 14 per student, 12 on average (see `invoicesFor`). */
  invoices: number;
}

export interface Plan {
  scale: number;
  seed: number;
  academicYear: string;
  /**
   * First day of the first billing month: `billingMonths` months ending with the month the
   * data is generated in (see `billingStartFor`), so the aging buckets of a statement asked
   * for today all hold something whatever day that is.
   */
  billingStart: string;
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
  /** Student k gets `invoicesPerStudent + 2 - k % 5` invoices (10..14). */
  invoicesPerStudent: 12,
  /** Invoices are issued over this many months from the plan's `billingStart` (see `billingStartFor`). */
  billingMonths: 20,
  /** Percent of invoices fully paid, partly paid (the rest are unpaid); each paid one has 1-3 payments. */
  fullyPaidPercent: 60,
  partlyPaidPercent: 25,
  /** Percent of invoices with payments whose last payment was (partly) refunded. */
  refundedPercent: 2,
} as const;

/**
 * The month (counted from `billingStart`) of the latest invoice any student gets: student k's
 * invoice i of n is issued in month `i * billingMonths / n`, in integer division as the insert
 * computes it, so with 10 to 14 invoices the last one lands in month 18, not 19.
 */
const LAST_BILLING_MONTH = Math.max(
  ...[0, 1, 2, 3, 4].map((r) => {
    const n = BASE.invoicesPerStudent + 2 - r;
    return Math.floor(((n - 1) * BASE.billingMonths) / n);
  }),
);

/**
 * The first day (`YYYY-MM-DD`, UTC) of a billing period whose last invoices are issued in
 * `today`'s month (some of them later in the month, as a school bills a month ahead), so a
 * statement for any day of that month has money in every aging bucket: not yet due from this
 * month's bills, 1-30 days from last month's, and so on. Data placed at fixed dates ages:
 * generated in November 2026 it filled every bucket of a statement for that day, and a month
 * later the "not yet due" bucket was empty and the benchmark's own check failed.
 */
export function billingStartFor(today: Date = new Date()): string {
  return new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - LAST_BILLING_MONTH, 1))
    .toISOString()
    .slice(0, 10);
}

/** The academic year (April to March, as Indian schools keep it) `today` falls in, like `2026-27`. */
export function academicYearFor(today: Date = new Date()): string {
  const start = today.getUTCMonth() >= 3 ? today.getUTCFullYear() : today.getUTCFullYear() - 1;
  return `${start}-${String((start + 1) % 100).padStart(2, '0')}`;
}

/** Invoices for a school of `students`: student k has `12 + 2 - k % 5`, so every 5 students have 60. */
export function invoicesFor(students: number): number {
  const rest = students % 5;
  let total = Math.floor(students / 5) * 5 * BASE.invoicesPerStudent;
  for (let k = 0; k < rest; k++) total += BASE.invoicesPerStudent + 2 - k;
  return total;
}

/** A small seeded PRNG (mulberry32): same seed, same sequence, on every platform. */
export function prng(seed: number): () => number {
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
    academicYear: options.academicYear ?? academicYearFor(),
    billingStart: options.billingStart ?? billingStartFor(),
    passwordHash: options.passwordHash ?? '!bench-no-login',
    schools: sizes.map((students, i) => {
      const classes = Math.max(1, Math.ceil(students / BASE.studentsPerClass));
      return {
        no: i + 1,
        students,
        classes,
        guardians: Math.max(1, Math.round(students * BASE.guardiansPerStudent)),
        teachers: Math.max(1, Math.ceil(classes / BASE.classesPerTeacher)),
        invoices: invoicesFor(students),
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
 * helpers `pg_temp.bench_id(text)` (uuid) and `pg_temp.bench_hash(text)` (0..2^32-1),
 * plus the billing helpers (`BILLING_FUNCTIONS`). Statements run through
 * `insert`, which passes the seed as `$1` (text) to prefix keys.
 */
export interface EntityGenerator {
  table: string;
  /** Shown in the log instead of `table`, for a step that updates rows an earlier one inserted. */
  step?: string;
  /** Rows `insert` must produce for this plan, checked after it runs; omit when hashes decide. */
  expected?(plan: Plan): number;
  insert(client: Client, plan: Plan): Promise<number>;
}

/** Runs one `insert … select`; the seed is `$1`, `params` follow as `$2`, `$3`… */
async function insert(client: Client, plan: Plan, sql: string, params: unknown[] = []): Promise<number> {
  const result = await client.query(sql, [String(plan.seed), ...params]);
  return result.rowCount ?? 0;
}

/** Runs a statement that derives everything from rows inserted earlier (no seed, no parameters). */
async function derive(client: Client, sql: string): Promise<number> {
  const result = await client.query(sql);
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
  }, // ---- Billing. Every amount below is a function of the invoice id (see BILLING_FUNCTIONS), so
  // each insert recomputes what the earlier ones decided; verifyLedger checks they agree.
  {
    table: 'invoices',
    // Student k's invoices are spread evenly over the billing months, due 15-30 days after issue.
    // Numbers run gap-free per school and issue year in issue order, as reserveInvoiceNumbers hands
    // them out. Rows go in issue order (as a school issues them month by month), so one student's
    // invoices sit on different pages, as in production.
    expected: (plan) => sumOf(plan, (s) => s.invoices),
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into invoices (id, school_id, student_id, number, currency, issue_date, due_date,
                               total_minor, paid_minor, refunded_minor, created_at, updated_at)
         select v.id, v.school_id, v.student_id,
                'INV-' || v.year || '-' ||
                  lpad(row_number() over (partition by v.school_id, v.year order by v.issue_date, v.k, v.i)::text, 6, '0'),
                s.currency, v.issue_date, v.due_date, v.total, v.paid, pg_temp.bench_refund(v.b2, v.paid),
                (v.issue_date + time '08:00') at time zone s.timezone,
                (v.issue_date + time '08:00') at time zone s.timezone
         from (
           select t.*, extract(year from t.issue_date)::int as year,
                  t.issue_date + (15 + t.b3 / 28 % 16)::int as due_date,
                  pg_temp.bench_paid(t.b2, t.total) as paid
           from (
             select d.*,
                    ($2::date + make_interval(months => d.i * $3 / d.n))::date + (d.b3 % 28)::int as issue_date,
                    pg_temp.bench_invoice_total(d.b1) as total
             from (
               select c.*, pg_temp.bench_bits(c.id, 1) as b1, pg_temp.bench_bits(c.id, 2) as b2,
                      pg_temp.bench_bits(c.id, 3) as b3
               from (
                 select p.no, p.school_id, k, i, $4 + 2 - k % 5 as n,
                        pg_temp.bench_id($1 || ':invoice:' || p.no || ':' || k || ':' || i) as id,
                        pg_temp.bench_id($1 || ':student:' || p.no || ':' || k) as student_id
                 from bench_plan p
                 cross join lateral generate_series(0, p.students - 1) k
                 cross join lateral generate_series(0, $4 + 1 - k % 5) i
                 offset 0
               ) c offset 0
             ) d offset 0
           ) t offset 0
         ) v
         join schools s on s.id = v.school_id
         order by v.issue_date, v.no, v.k, v.i`,
        [plan.billingStart, BASE.billingMonths, BASE.invoicesPerStudent],
      ),
  },
  {
    table: 'invoice_lines',
    // 1-3 lines: tuition, transport, books (quantity 1-3); amounts in whole rupees. In id order,
    // so the primary key is appended to.
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into invoice_lines (id, invoice_id, position, description, fee_head, quantity,
                                    unit_amount_minor, amount_minor)
         select pg_temp.bench_id($1 || ':line:' || l.invoice_id || ':' || l.position), l.invoice_id, l.position,
                (array['Tuition fee', 'Transport', 'Books and materials'])[l.position + 1]
                  || ', ' || to_char(l.issue_date, 'Mon YYYY'),
                (array['Tuition', 'Transport', 'Books'])[l.position + 1],
                l.quantity, l.unit, l.quantity * l.unit
         from (
           select inv.id as invoice_id, inv.issue_date, j as position,
                  pg_temp.bench_line_qty(inv.b1, j) as quantity, pg_temp.bench_line_unit(inv.b1, j) as unit
           from (select id, issue_date, pg_temp.bench_bits(id, 1) as b1 from invoices offset 0) inv
           cross join lateral generate_series(0, pg_temp.bench_line_count(inv.b1) - 1) j
           offset 0
         ) l
         order by 1`,
      ),
  },
  {
    table: 'invoice_counters',
    // The last number handed out per school and year: with gap-free numbers, the count.
    insert: (client) =>
      derive(
        client,
        `insert into invoice_counters (school_id, year, last_value)
         select school_id, substr(number, 5, 4)::int, max(substr(number, 10)::int)
         from invoices
         group by 1, 2 order by 1, 2`,
      ),
  },
  {
    table: 'payments',
    // 1-3 payments per invoice with money on it, splitting its paid amount, so none exceeds
    // what the invoice still owed and no credit arises. In id order: the primary key and
    // unique (id, school_id) are appended to instead of split at random (a third faster), and a
    // student's payments still land on ~20 different pages, as arrival order would put them.
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into payments (id, school_id, student_id, invoice_id, amount_minor, refunded_minor, currency,
                               method, reference, paid_at, created_at)
         select y.id, y.school_id, y.student_id, y.invoice_id, y.amount, y.refunded, y.currency, y.method,
                case when y.method = 'cash' then null else upper(substr(replace(y.id::text, '-', ''), 1, 12)) end,
                y.paid_at, y.paid_at
         from (
           select pg_temp.bench_id($1 || ':payment:' || x.invoice_id || ':' || r) as id,
                  x.school_id, x.student_id, x.invoice_id, x.currency,
                  pg_temp.bench_payment_cut(x.b2, x.paid, r + 1) - pg_temp.bench_payment_cut(x.b2, x.paid, r) as amount,
                  case when r = x.q - 1 then x.refunded else 0 end as refunded,
                  ${pick(['upi', 'upi', 'upi', 'cash', 'cash', 'bank_transfer', 'card', 'cheque', 'online'], 'h.bits % 9')} as method,
                  (x.issue_date + (3 + 10 * r + h.bits / 9 % 10)::int + time '09:00'
                    + make_interval(mins => (h.bits / 90 % 540)::int)) at time zone x.timezone as paid_at
           from (
             select w.*, pg_temp.bench_payment_count(w.b2, w.paid) as q
             from (
               select inv.id as invoice_id, inv.school_id, inv.student_id, inv.currency, inv.issue_date,
                      inv.paid_minor as paid, inv.refunded_minor as refunded, s.timezone,
                      pg_temp.bench_bits(inv.id, 2) as b2
               from invoices inv join schools s on s.id = inv.school_id
               where inv.paid_minor > 0
               offset 0
             ) w
           ) x
           cross join lateral generate_series(0, x.q - 1) r
           cross join lateral (select pg_temp.bench_bits(x.invoice_id, 10 + r) as bits offset 0) h
         ) y
         order by y.id`,
      ),
  },
  {
    table: 'refunds',
    // The refunded invoices' last payments: all of it or half, taken back from that invoice
    // (the student had no credit, so nothing comes from credit).
    insert: (client, plan) =>
      insert(
        client,
        plan,
        `insert into refunds (id, school_id, payment_id, amount_minor, from_credit_minor, reason, created_at)
         select pg_temp.bench_id($1 || ':refund:' || p.id), p.school_id, p.id, p.refunded_minor, 0,
                ${pick(['Fee concession', 'Paid twice', 'Student withdrew from transport', 'Scholarship'], `pg_temp.bench_hash($1 || ':refund-reason:' || p.id)`)},
                p.paid_at + make_interval(days => (2 + pg_temp.bench_hash($1 || ':refund-day:' || p.id) % 20)::int)
         from payments p
         where p.refunded_minor > 0
         order by 7, 1`,
      ),
  },
  {
    table: 'allocations',
    // One 'payment' allocation per payment (all of it went to its invoice), one negative 'refund'
    // allocation per refund after it. In payment order (the payments' physical order, so no sort),
    // which appends to allocations_payment_idx.
    insert: (client) =>
      derive(
        client,
        `insert into allocations (school_id, payment_id, invoice_id, amount_minor, kind, created_at, effective_at)
         select a.school_id, a.payment_id, a.invoice_id, a.amount, a.kind, a.created_at, a.created_at
         from (
           select p.school_id, p.id as payment_id, p.invoice_id, p.amount_minor as amount, 'payment' as kind,
                  p.paid_at as created_at
           from payments p
           union all
           (select r.school_id, r.payment_id, p.invoice_id, -(r.amount_minor - r.from_credit_minor), 'refund',
                   r.created_at
            from refunds r join payments p on p.id = r.payment_id
            order by r.payment_id)
         ) a`,
      ),
  },
  {
    table: 'students',
    step: 'students (totals)',
    // The running totals refreshStudentTotals keeps (packages/ledger/src/credit.ts), for everyone at once.
    expected: (plan) => sumOf(plan, (s) => s.students),
    insert: (client) =>
      derive(
        client,
        `update students s
         set invoiced_minor = i.invoiced, balance_minor = i.balance,
             paid_minor = coalesce(p.paid, 0), refunded_minor = coalesce(p.refunded, 0), credit_minor = 0
         from (
           select student_id,
                  coalesce(sum(total_minor) filter (where voided_at is null), 0) as invoiced,
                  coalesce(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null), 0) as balance
           from invoices group by student_id
         ) i
         left join (
           select student_id, sum(amount_minor) as paid, sum(refunded_minor) as refunded
           from payments group by student_id
         ) p using (student_id)
         where s.id = i.student_id`,
      ),
  },
  {
    table: 'student_fee_heads',
    // The students' totals by fee head refreshStudentTotals keeps, from the view that holds the split.
    insert: (client) =>
      derive(
        client,
        `insert into student_fee_heads (student_id, fee_head, school_id, invoiced_minor, collected_minor, outstanding_minor)
         select student_id, fee_head, school_id, invoiced_minor, collected_minor, outstanding_minor
         from student_fee_head_totals`,
      ),
  },
];

/** The tables `GENERATORS` fill, each once, in fill order. */
const TABLES = [...new Set(GENERATORS.map((g) => g.table))];
/** The same, children first, for `--reset`. */
const RESET_ORDER = [...TABLES].reverse();

const PARTLY_PAID_BELOW = BASE.fullyPaidPercent + BASE.partlyPaidPercent;

/**
 * The billing model. Every choice about an invoice is a digit of one of its three "streams",
 * `pg_temp.bench_bits(invoice id, stream)` (63 bits from `hashtextextended`, a quarter of md5's
 * cost; ids stay md5). Each insert computes the streams once per invoice and passes them to
 * these helpers, so the invoices, lines and payments inserts agree without reading each other:
 *  - stream 1, lines: 1-3; tuition ₹3,000-25,000, transport ₹800-4,000, books ₹150-1,000 x 1-3
 *  - stream 2, money: paid all of the total (60%), 10-89% of it in whole rupees (25%), or
 *    nothing (15%); 1-3 payments when anything was paid, payment r covering (cut r, cut r+1],
 *    cut r = r/q of the paid amount ± 30/q % (so each payment is at least 13% of it, never 0);
 *    on 2% of invoices with payments a refund of all or half of the last payment
 *  - stream 3, dates: issue day within the month, days until due
 * Amounts are in paise and whole rupees.
 */
const BILLING_FUNCTIONS = `
  create function pg_temp.bench_bits(inv uuid, stream int) returns bigint language sql immutable as
    $$ select hashtextextended(inv::text, stream) & 9223372036854775807 $$;
  create function pg_temp.bench_line_count(b1 bigint) returns int language sql immutable as
    $$ select (1 + b1 % 3)::int $$;
  create function pg_temp.bench_line_qty(b1 bigint, j int) returns int language sql immutable as
    $$ select case when j = 2 then (1 + b1 / 3 % 3)::int else 1 end $$;
  create function pg_temp.bench_line_unit(b1 bigint, j int) returns bigint language sql immutable as
    $$ select 100 * case j when 0 then 3000 + b1 / 9 % 22000
                           when 1 then 800 + b1 / 198000 % 3200
                           else 150 + b1 / 633600000 % 850 end $$;
  create function pg_temp.bench_invoice_total(b1 bigint) returns bigint language sql immutable as
    $$ select pg_temp.bench_line_unit(b1, 0)
         + case when pg_temp.bench_line_count(b1) >= 2 then pg_temp.bench_line_unit(b1, 1) else 0 end
         + case when pg_temp.bench_line_count(b1) >= 3
                then pg_temp.bench_line_qty(b1, 2) * pg_temp.bench_line_unit(b1, 2) else 0 end $$;
  create function pg_temp.bench_paid(b2 bigint, total bigint) returns bigint language sql immutable as
    $$ select case when b2 % 100 < ${BASE.fullyPaidPercent} then total
                   when b2 % 100 < ${PARTLY_PAID_BELOW} then total * (10 + b2 / 100 % 80) / 10000 * 100
                   else 0 end $$;
  create function pg_temp.bench_payment_count(b2 bigint, paid bigint) returns int language sql immutable as
    $$ select case when paid > 0 then (1 + b2 / 8000 % 3)::int else 0 end $$;
  create function pg_temp.bench_payment_cut(b2 bigint, paid bigint, r int) returns bigint
    language sql immutable as
    $$ select case when r <= 0 then 0::bigint
                   when r >= pg_temp.bench_payment_count(b2, paid) then paid
                   else paid * (r * 100 + (case r when 1 then b2 / 24000 else b2 / 1464000 end) % 61 - 30)
                          / (pg_temp.bench_payment_count(b2, paid) * 100) / 100 * 100
              end $$;
  create function pg_temp.bench_refund(b2 bigint, paid bigint) returns bigint language sql immutable as
    $$ select case when paid = 0 or b2 / 89304000 % 100 >= ${BASE.refundedPercent} then 0::bigint
                   else (paid - pg_temp.bench_payment_cut(b2, paid, pg_temp.bench_payment_count(b2, paid) - 1))
                        / (case when b2 / 8930400000 % 2 = 0 then 100 else 200 end) * 100
              end $$;
`;

async function prepareSession(client: Client, plan: Plan): Promise<void> {
  await client.query(`
    -- md5 with the version nibble set to 8 and the variant to 10xx: a valid RFC 9562 UUIDv8
    -- ("custom"), which the api's z.uuid() accepts; a bare md5 passes only 1 time in 8.
    create function pg_temp.bench_id(key text) returns uuid
      language sql immutable as $$ select overlay(overlay(md5(key) placing '8' from 13) placing '8' from 17)::uuid $$;
    create function pg_temp.bench_hash(key text) returns bigint
      language sql immutable as $$ select ('x' || substr(md5(key), 1, 8))::bit(32)::bigint $$;
    create temp table bench_plan (
      no int primary key, school_id uuid not null,
      students int not null, classes int not null, guardians int not null, teachers int not null
    ) on commit drop;
  `);
  await client.query(BILLING_FUNCTIONS);
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

/**
 * The ledger's invariants (packages/ledger: payments.ts, credit.ts, invoices.ts), each as a
 * query counting the rows that break it. Zero everywhere, or the data is not what the api
 * would have written.
 */
export const LEDGER_CHECKS: Record<string, string> = {
  'invoice total = sum of its 1-3 lines, line = quantity x unit': `
    select (select count(*) from invoices i
            left join (select invoice_id, sum(amount_minor) as total, count(*) as n
                       from invoice_lines group by invoice_id) l on l.invoice_id = i.id
            where l.total is distinct from i.total_minor or l.n not between 1 and 3)
         + (select count(*) from invoice_lines where amount_minor <> quantity * unit_amount_minor)`,
  'invoice: school currency, INV-<issue year>-nnnnnn, due >= issue, 0 <= paid - refunded <= total, not void': `
    select count(*) from invoices i join schools s on s.id = i.school_id
    where i.currency <> s.currency or i.voided_at is not null or i.due_date < i.issue_date
       or i.paid_minor - i.refunded_minor not between 0 and i.total_minor
       or i.number !~ ('^INV-' || extract(year from i.issue_date) || '-[0-9]{6}$')`,
  'invoice paid = its payment/credit/void allocations, refunded = minus its refund allocations': `
    select count(*) from invoices i
    left join (select invoice_id,
                      sum(amount_minor) filter (where kind <> 'refund') as paid,
                      -sum(amount_minor) filter (where kind = 'refund') as refunded
               from allocations group by invoice_id) a on a.invoice_id = i.id
    where coalesce(a.paid, 0) <> i.paid_minor or coalesce(a.refunded, 0) <> i.refunded_minor`,
  'invoice paid = sum of its payments, refunded = their refunds (no credit moved money)': `
    select count(*) from invoices i
    left join (select invoice_id, sum(amount_minor) as paid, sum(refunded_minor) as refunded
               from payments group by invoice_id) p on p.invoice_id = i.id
    where coalesce(p.paid, 0) <> i.paid_minor or coalesce(p.refunded, 0) <> i.refunded_minor`,
  'payment: same student, school and currency as its invoice': `
    select count(*) from payments p join invoices i on i.id = p.invoice_id
    where p.student_id <> i.student_id or p.school_id <> i.school_id or p.currency <> i.currency`,
  'payment: one payment allocation of all of it to its invoice, nothing left unallocated': `
    select count(*) from (
      select p.id from payments p left join allocations a on a.payment_id = p.id
      group by p.id
      having count(a.id) filter (where a.kind = 'payment') <> 1
          or coalesce(sum(a.amount_minor) filter (where a.kind = 'payment'), 0) <> p.amount_minor
          or p.amount_minor - p.refunded_minor - coalesce(sum(a.amount_minor), 0) <> 0
          or coalesce(bool_or(a.invoice_id <> p.invoice_id or a.school_id <> p.school_id), false)
    ) bad`,
  'payment refunded = sum of its refunds, none from credit': `
    select (select count(*) from payments p
            left join (select payment_id, sum(amount_minor) as refunded from refunds group by payment_id) r
              on r.payment_id = p.id
            where coalesce(r.refunded, 0) <> p.refunded_minor)
         + (select count(*) from refunds where from_credit_minor <> 0)`,
  'student running totals = sums over their invoices and payments (refreshStudentTotals), credit 0': `
    select count(*) from students s
    left join (select student_id,
                      sum(total_minor) filter (where voided_at is null) as invoiced,
                      sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null) as balance
               from invoices group by student_id) i on i.student_id = s.id
    left join (select student_id, sum(amount_minor) as paid, sum(refunded_minor) as refunded
               from payments group by student_id) p on p.student_id = s.id
    where s.invoiced_minor <> coalesce(i.invoiced, 0) or s.balance_minor <> coalesce(i.balance, 0)
       or s.paid_minor <> coalesce(p.paid, 0) or s.refunded_minor <> coalesce(p.refunded, 0)
       or s.credit_minor <> 0`,
  'invoice_counters: last value = highest number = count per school and year (gap-free)': `
    select count(*) from (
      select school_id, substr(number, 5, 4)::int as year, max(substr(number, 10)::int) as last, count(*) as n
      from invoices group by 1, 2
    ) c
    full join invoice_counters ic on ic.school_id = c.school_id and ic.year = c.year
    where ic.last_value is distinct from c.last or c.last <> c.n`,
};

/** Runs every `LEDGER_CHECKS` query; throws naming each broken invariant. */
export async function verifyLedger(client: Client, log: (line: string) => void = () => {}): Promise<void> {
  const broken: string[] = [];
  for (const [invariant, sql] of Object.entries(LEDGER_CHECKS)) {
    const started = performance.now();
    const { rows } = await client.query<{ bad: string }>(`select (${sql}) as bad`);
    const bad = Number(rows[0]?.bad ?? -1);
    log(`    ${bad === 0 ? 'ok ' : 'BAD'} ${invariant} (${(performance.now() - started).toFixed(0)} ms)`);
    if (bad !== 0) broken.push(`${invariant}: ${bad} rows`);
  }
  if (broken.length) throw new Error(`generated ledger is inconsistent:\n  ${broken.join('\n  ')}`);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Every foreign key declared on `tables` (read from `pg_constraint`, so exactly what the
 * migrations define), checked with one anti-join each: the load runs with row-by-row FK
 * triggers off (see `generate`), and this is what stands in for them. MATCH SIMPLE, like
 * the constraints: a row with a null key column references nothing.
 */
export async function verifyForeignKeys(
  client: Client,
  tables: string[],
  log: (line: string) => void = () => {},
): Promise<void> {
  const { rows: keys } = await client.query<{
    name: string;
    child: string;
    parent: string;
    cols: string[];
    refs: string[];
  }>(
    `select c.conname as name, c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent,
            array(select a.attname::text from unnest(c.conkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.n) as cols,
            array(select a.attname::text from unnest(c.confkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum order by k.n) as refs
     from pg_constraint c
     where c.contype = 'f' and c.conrelid = any($1::regclass[])
     order by 2, 1`,
    [tables],
  );
  const broken: string[] = [];
  for (const key of keys) {
    const started = performance.now();
    const present = key.cols.map((col) => `c.${quoteIdent(col)} is not null`).join(' and ');
    const matches = key.cols
      .map((col, i) => `p.${quoteIdent(key.refs[i]!)} = c.${quoteIdent(col)}`)
      .join(' and ');
    const { rows } = await client.query<{ bad: string }>(
      `select count(*) as bad from ${key.child} c
       where ${present} and not exists (select 1 from ${key.parent} p where ${matches})`,
    );
    const bad = Number(rows[0]?.bad ?? -1);
    log(
      `    ${bad === 0 ? 'ok ' : 'BAD'} ${key.child} (${key.cols.join(', ')}) -> ${key.parent} ` +
        `(${(performance.now() - started).toFixed(0)} ms)`,
    );
    if (bad !== 0) broken.push(`${key.name}: ${bad} ${key.child} rows reference no ${key.parent} row`);
  }
  if (!keys.length)
    throw new Error(`no foreign keys found on ${tables.join(', ')}; is the database migrated?`);
  if (broken.length) throw new Error(`generated rows break foreign keys:\n  ${broken.join('\n  ')}`);
}

/** Invoices by payment state, payments and refunds, for the log. */
async function ledgerMix(client: Client): Promise<string> {
  const { rows } = await client.query<Record<string, string>>(`
    select count(*) as invoices,
           count(*) filter (where paid_minor = total_minor) as paid,
           count(*) filter (where paid_minor > 0 and paid_minor < total_minor) as partly,
           count(*) filter (where paid_minor = 0) as unpaid,
           (select count(*) from payments) as payments,
           (select count(*) from refunds) as refunds
    from invoices`);
  const mix = rows[0] ?? {};
  const n = Number(mix.invoices) || 1;
  const share = (key: string) => `${((Number(mix[key]) * 100) / n).toFixed(0)}%`;
  return (
    `${mix.invoices} invoices (${share('paid')} paid, ${share('partly')} partly paid, ${share('unpaid')} unpaid), ` +
    `${mix.payments} payments, ${mix.refunds} refunds`
  );
}

/**
 * What generated data depends on besides scale and seed: this generator and the
 * migrations (which are edited in place before release). A database generated
 * from other sources is regenerated, not reused.
 */
function computeSourceFingerprint(): string {
  const hash = createHash('sha256');
  const migrationsDir = fileURLToPath(new URL('../../packages/db/src/migrations/', import.meta.url));
  const files = [
    fileURLToPath(import.meta.url),
    ...readdirSync(migrationsDir)
      .filter((file) => file.endsWith('.ts'))
      .sort()
      .map((file) => join(migrationsDir, file)),
  ];
  for (const file of files) hash.update(file.slice(file.lastIndexOf('/') + 1)).update(readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Computed once, when this module loads: it describes the code that is running (the migrations
 * are imported at load time too), even if the files change while a generation is under way.
 */
const SOURCE_FINGERPRINT = computeSourceFingerprint();

export function sourceFingerprint(): string {
  return SOURCE_FINGERPRINT;
}

/**
 * What a generated database's marker records: the sources and the billing period's first day.
 * Data generated in an earlier month is placed at dates that have aged since, so it is
 * regenerated rather than reused.
 */
function dataFingerprint(billingStart: string): string {
  return `${SOURCE_FINGERPRINT}@${billingStart}`;
}

/** One row saying what the database holds; written in the generating transaction, so only complete data has one. */
const MARKER_TABLE = 'bench_generation';

interface Marker {
  scale: number;
  seed: number;
  fingerprint: string;
}

async function writeMarker(client: Client, marker: Marker, tables: GenerateReport['tables']): Promise<void> {
  await client.query(`create table if not exists ${MARKER_TABLE} (
      scale double precision not null, seed bigint not null, fingerprint text not null,
      rows jsonb not null, generated_at timestamptz not null default now())`);
  await client.query(`delete from ${MARKER_TABLE}`);
  await client.query(`insert into ${MARKER_TABLE} (scale, seed, fingerprint, rows) values ($1, $2, $3, $4)`, [
    marker.scale,
    marker.seed,
    marker.fingerprint,
    JSON.stringify(tables.map(({ table, rows }) => ({ table, rows }))),
  ]);
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
  /**
   * CPU seconds the generating PostgreSQL backend used (undefined without procfs or on a remote
   * server): what generation costs regardless of what else the machine is doing, unlike `totalMs`.
   */
  backendCpuSec?: number;
}

function logStep(log: (line: string) => void, name: string, rows: number | undefined, ms: number): void {
  log(
    `  ${name.padEnd(18)} ${rows === undefined ? ''.padStart(14) : `${String(rows).padStart(9)} rows`}  ${ms.toFixed(0).padStart(6)} ms`,
  );
}

/**
 * Inserts the plan's rows in one transaction: all of them or none. The ledger is
 * verified (`verifyLedger`) before the commit, so inconsistent data is never kept.
 */
export async function generate(options: GenerateOptions): Promise<GenerateReport> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 1;
  const plan = planCounts(options.scale, seed, {
    ...(options.academicYear ? { academicYear: options.academicYear } : {}),
    ...(options.passwordHash ? { passwordHash: options.passwordHash } : {}),
  });
  const pool = createPool(options.databaseUrl, { max: 1, applicationName: 'bursar-bench-generate' });
  const started = performance.now();
  const tables: GenerateReport['tables'] = [];
  const client = await connectClient(pool);
  const { rows: backend } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const backendPid = backend[0]!.pid;
  const cpuAtStart = processCpuSeconds(backendPid);
  try {
    await client.query('begin');
    // generate_series row estimates make the planner JIT-compile these one-off statements, which costs
    // more than it saves (hundreds of ms for a 700-row insert).
    await client.query('set local jit = off');
    // The billing inserts sort up to a million rows (issue and id order); keep that in memory.
    await client.query(`set local work_mem = '256MB'`);
    // Foreign-key triggers off (CHECK, NOT NULL and unique constraints still apply): each row's
    // check locks its parent rows (FOR KEY SHARE: a WAL record and a dirtied page per parent), about
    // 40% of the load. verifyForeignKeys checks every declared key once at the end instead.
    // Needs a superuser, as the benchmarks' postgres@127.0.0.1 is.
    await client.query(`set local session_replication_role = replica`);
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
      const name = generator.step ?? generator.table;
      const tableStart = performance.now();
      const rows = await generator.insert(client, plan);
      const expected = generator.expected?.(plan);
      if (expected !== undefined && rows !== expected) {
        throw new Error(`${name}: inserted ${rows} rows, plan says ${expected}`);
      }
      const ms = performance.now() - tableStart;
      tables.push({ table: name, rows, ms });
      logStep(log, name, rows, ms);
    }
    // Statistics before the checks, so their million-row joins are planned as hash joins.
    let stepStart = performance.now();
    await client.query(`analyze ${TABLES.join(', ')}`);
    logStep(log, 'analyze', undefined, performance.now() - stepStart);
    stepStart = performance.now();
    log(`  ${await ledgerMix(client)}`);
    await verifyForeignKeys(client, TABLES, log);
    await verifyLedger(client, log);
    logStep(log, 'verify', undefined, performance.now() - stepStart);
    await writeMarker(
      client,
      { scale: options.scale, seed, fingerprint: dataFingerprint(plan.billingStart) },
      tables,
    );
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  try {
    const vacuumStart = performance.now();
    // Set hint bits and the visibility map now (index-only scans, no page writes on first read) and
    // refresh statistics, so the first benchmark query runs like later ones and autovacuum has
    // nothing left to do during a measurement.
    await pool.query(`vacuum (analyze) ${TABLES.join(', ')}`);
    logStep(log, 'vacuum analyze', undefined, performance.now() - vacuumStart);
  } finally {
    await pool.end();
  }
  // The pool had one connection, so one backend did all of it.
  const cpuAtEnd = processCpuSeconds(backendPid);
  return {
    plan,
    tables,
    totalMs: performance.now() - started,
    ...(cpuAtStart !== undefined && cpuAtEnd !== undefined ? { backendCpuSec: cpuAtEnd - cpuAtStart } : {}),
  };
}

function describeReport(report: GenerateReport): string {
  const rows = report.tables.reduce((total, t) => total + t.rows, 0);
  const cpu =
    report.backendCpuSec === undefined
      ? ''
      : `; the PostgreSQL backend used ${report.backendCpuSec.toFixed(1)} CPU-s`;
  return `${rows} rows in ${(report.totalMs / 1000).toFixed(1)} s${cpu} (1-minute load average now ${loadavg()[0]?.toFixed(1)})`;
}

export interface EnsureOptions {
  /** Must name a `bursar_bench*` database: it is dropped and recreated when its data does not match. */
  databaseUrl: string;
  scale: number;
  seed?: number;
  log?: (line: string) => void;
}

async function readMarker(databaseUrl: string): Promise<Marker | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
  } catch (error) {
    if ((error as { code?: string }).code === '3D000') return undefined; // no such database
    throw error;
  }
  try {
    const { rows } = await client.query<{ scale: number; seed: string; fingerprint: string }>(
      `select scale, seed, fingerprint from ${MARKER_TABLE}`,
    );
    const row = rows.length === 1 ? rows[0] : undefined;
    return row && { scale: row.scale, seed: Number(row.seed), fingerprint: row.fingerprint };
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return undefined; // no marker table
    throw error;
  } finally {
    await client.end();
  }
}

async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  const client = new pg.Client({ connectionString: withDatabase(databaseUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * Makes `databaseUrl` hold exactly the data of `scale` and `seed` from the current
 * sources: reused when its marker says so, otherwise dropped, recreated, migrated and
 * generated (a few minutes at scale 1).
 */
export async function ensureGenerated(options: EnsureOptions): Promise<{ reused: boolean }> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 1;
  const name = databaseName(options.databaseUrl);
  if (!name.startsWith('bursar_bench')) {
    throw new Error(
      `ensureGenerated drops and recreates its database; ${name} is not a bursar_bench* database`,
    );
  }
  const wanted: Marker = { scale: options.scale, seed, fingerprint: dataFingerprint(billingStartFor()) };
  const found = await readMarker(options.databaseUrl);
  if (
    found &&
    found.scale === wanted.scale &&
    found.seed === wanted.seed &&
    found.fingerprint === wanted.fingerprint
  ) {
    log(`  reusing ${name}: scale ${wanted.scale}, seed ${seed}, sources ${wanted.fingerprint}`);
    return { reused: true };
  }
  log(
    `  ${found ? `${name} holds scale ${found.scale}, seed ${found.seed}, sources ${found.fingerprint}` : `${name} has no generated data`}; ` +
      `regenerating scale ${wanted.scale}, seed ${seed}, sources ${wanted.fingerprint}`,
  );
  await dropDatabase(options.databaseUrl);
  await migrate(options.databaseUrl);
  const report = await generate({ scale: options.scale, seed, databaseUrl: options.databaseUrl, log });
  log(`  generated ${describeReport(report)}`);
  return { reused: false };
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      db: { type: 'string', default: DEFAULT_URL },
      reset: { type: 'boolean', default: false },
      reuse: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'no-migrate': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: tsx bench/lib/generate.ts [--scale 1] [--seed 1] [--db <url>] [--reset [--force] | --reuse] [--no-migrate]',
    );
    return;
  }
  if (values.reuse) {
    // Keep the database if it already holds this scale and seed from the current sources; else drop and regenerate it.
    await ensureGenerated({
      databaseUrl: values.db,
      scale: Number(values.scale),
      seed: Number(values.seed),
      log: console.log,
    });
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
  console.log(`done: ${describeReport(report)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
