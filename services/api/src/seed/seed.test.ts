import { sql, type Kysely } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DB } from '@bursar/db';
import { freshDatabase } from '@bursar/test-support';
import { verifyPassword } from '../auth/password.js';
import {
  DEMO_CLASSES,
  DEMO_GUARDIANS,
  DEMO_SCHOOL,
  DEMO_STAFF,
  DEMO_STUDENTS,
  PLATFORM_ADMIN_ID,
} from './demo-data.js';
import { seedDemo, type SeedResult } from './seed.js';

const OPTIONS = {
  adminEmail: 'seed-admin@bursar.test',
  adminPassword: 'admin-password-1',
  demoPassword: 'demo-password-1',
};

/** Every table the seed writes, snake_case as in SQL. */
const SEEDED_TABLES = ['users', 'schools', 'classes', 'students', 'guardians', 'student_guardians'];

/** Every row of every seeded table, in a stable order, as comparable text. */
async function snapshot(db: Kysely<DB>): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {};
  for (const table of SEEDED_TABLES) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
    tables[table] = rows
      .map((row) =>
        JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value)),
      )
      .sort();
  }
  return tables;
}

// Called while the file is collected: freshDatabase registers an afterAll that drops the database,
// and Vitest drops hooks registered from inside another hook (the database would leak).
const { db } = await freshDatabase();

describe('seedDemo', () => {
  let first: SeedResult;
  let afterFirst: Record<string, string[]>;
  let second: SeedResult;
  let afterSecond: Record<string, string[]>;

  // Both runs happen once here, so each test below can run alone or in any order.
  beforeAll(async () => {
    first = await seedDemo(db, OPTIONS);
    afterFirst = await snapshot(db);
    // Other passwords on the second run: seeding must never reset an existing password.
    second = await seedDemo(db, {
      ...OPTIONS,
      adminPassword: 'other-password',
      demoPassword: 'other-password',
    });
    afterSecond = await snapshot(db);
  });

  it('inserts the demo school and its people into an empty database', () => {
    const links = DEMO_STUDENTS.length;
    expect(first.inserted).toBe(1 + 1 + 3 + 12 + 6 + links + DEMO_STAFF.length);
    expect(
      Object.fromEntries(Object.entries(afterFirst).map(([table, rows]) => [table, rows.length])),
    ).toEqual({
      users: 1 + DEMO_STAFF.length,
      schools: 1,
      classes: 3,
      students: 12,
      guardians: 6,
      student_guardians: links,
    });
  });

  it('creates the platform admin with an argon2id hash of the configured password', async () => {
    const admin = await db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', PLATFORM_ADMIN_ID)
      .executeTakeFirstOrThrow();
    expect(admin).toMatchObject({ email: OPTIONS.adminEmail, role: 'platform_admin', schoolId: null });
    expect(admin.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(admin.passwordHash, OPTIONS.adminPassword)).toBe(true);
    expect(await verifyPassword(admin.passwordHash, 'other-password')).toBe(false);
  });

  it('creates the demo school with its classes, students, guardians and links', async () => {
    const school = await db
      .selectFrom('schools')
      .selectAll()
      .where('id', '=', DEMO_SCHOOL.id)
      .executeTakeFirstOrThrow();
    expect(school).toMatchObject(DEMO_SCHOOL);

    const classes = await db.selectFrom('classes').select(['id', 'schoolId']).orderBy('id').execute();
    expect(classes).toEqual(DEMO_CLASSES.map(({ id }) => ({ id, schoolId: DEMO_SCHOOL.id })));

    const students = await db
      .selectFrom('students')
      .select(['id', 'classId', 'schoolId'])
      .orderBy('id')
      .execute();
    expect(students).toEqual(
      DEMO_STUDENTS.map(({ id, classId }) => ({ id, classId, schoolId: DEMO_SCHOOL.id })),
    );

    const guardians = await db.selectFrom('guardians').select(['id', 'schoolId']).orderBy('id').execute();
    expect(guardians).toEqual(DEMO_GUARDIANS.map(({ id }) => ({ id, schoolId: DEMO_SCHOOL.id })));

    // Every student has exactly one primary payer: the guardian of their family.
    const links = await db
      .selectFrom('studentGuardians')
      .select(['studentId', 'guardianId', 'isPrimaryPayer'])
      .orderBy('studentId')
      .execute();
    expect(links).toEqual(
      DEMO_STUDENTS.map((student) => ({
        studentId: student.id,
        guardianId: DEMO_GUARDIANS[student.family]!.id,
        isPrimaryPayer: true,
      })),
    );
  });

  it('gives the demo staff the demo password', async () => {
    const staff = await db
      .selectFrom('users')
      .select(['email', 'role', 'schoolId', 'passwordHash'])
      .where('schoolId', '=', DEMO_SCHOOL.id)
      .orderBy('email')
      .execute();
    expect(staff.map(({ email, role }) => ({ email, role }))).toEqual(
      [...DEMO_STAFF]
        .sort((a, b) => a.email.localeCompare(b.email))
        .map(({ email, role }) => ({ email, role })),
    );
    for (const { passwordHash } of staff) {
      expect(passwordHash).toMatch(/^\$argon2id\$/);
      expect(await verifyPassword(passwordHash, OPTIONS.demoPassword)).toBe(true);
    }
  });

  it('inserts nothing and changes nothing the second time, passwords included', () => {
    expect(second.inserted).toBe(0);
    expect(afterSecond).toEqual(afterFirst);
  });

  it('issues the demo fee plan once, with Term 1 paid, part-paid, overpaid and unpaid families', async () => {
    expect(first.invoices).toBe(12 * 3);
    expect(second.invoices).toBe(0);
    const term1 = await db
      .selectFrom('invoices')
      .innerJoin('students', 'students.id', 'invoices.studentId')
      .select(['students.admissionNo', 'invoices.totalMinor', 'invoices.paidMinor', 'invoices.dueDate'])
      .where('invoices.dueDate', '=', '2026-04-15')
      .orderBy('students.admissionNo')
      .execute();
    expect(term1).toHaveLength(12);
    const paidInFull = term1.filter((invoice) => invoice.paidMinor === invoice.totalMinor);
    expect(paidInFull.map((invoice) => invoice.admissionNo)).toEqual(
      term1.slice(0, 8).map((i) => i.admissionNo),
    );
    expect(term1[8]!.paidMinor).toBe(term1[8]!.totalMinor / 2n);
    expect(term1.slice(9).every((invoice) => invoice.paidMinor === 0n)).toBe(true);
    // The first family's extra 5,000.00 moved onto their Term 2 invoice.
    const term2 = await db
      .selectFrom('invoices')
      .select('paidMinor')
      .where('studentId', '=', DEMO_STUDENTS[0]!.id)
      .where('dueDate', '=', '2026-08-15')
      .executeTakeFirstOrThrow();
    expect(term2.paidMinor).toBe(500_000n);
  });
});
