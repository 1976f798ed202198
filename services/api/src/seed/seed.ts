import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import { hashPassword } from '../auth/password.js';
import {
  DEMO_ACADEMIC_YEAR,
  DEMO_CLASSES,
  DEMO_GUARDIANS,
  DEMO_SCHOOL,
  DEMO_STAFF,
  DEMO_STUDENTS,
  PLATFORM_ADMIN_ID,
} from './demo-data.js';

export interface SeedOptions {
  adminEmail: string;
  adminPassword: string;
  demoPassword: string;
}

export interface SeedResult {
  inserted: number;
}

/**
 * Seeds the platform admin and the demo school. Idempotent: rows are keyed by
 * fixed ids and inserted only when missing, so a second run changes nothing
 * (and never resets a password someone has since changed).
 */
export async function seedDemo(db: Kysely<DB>, options: SeedOptions): Promise<SeedResult> {
  const [adminHash, demoHash] = await Promise.all([
    hashPassword(options.adminPassword),
    hashPassword(options.demoPassword),
  ]);
  return db.transaction().execute(async (trx) => {
    let inserted = 0;
    const count = (rows: { numInsertedOrUpdatedRows?: bigint }[]) => {
      inserted += rows.reduce((sum, row) => sum + Number(row.numInsertedOrUpdatedRows ?? 0n), 0);
    };
    count(
      await trx
        .insertInto('users')
        .values({
          id: PLATFORM_ADMIN_ID,
          email: options.adminEmail,
          name: 'Platform admin',
          passwordHash: adminHash,
          role: 'platform_admin',
          schoolId: null,
        })
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
    count(
      await trx
        .insertInto('schools')
        .values(DEMO_SCHOOL)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute(),
    );
    count(
      await trx
        .insertInto('classes')
        .values(
          DEMO_CLASSES.map((c) => ({ ...c, schoolId: DEMO_SCHOOL.id, academicYear: DEMO_ACADEMIC_YEAR })),
        )
        .onConflict((oc) => oc.column('id').doNothing())
        .execute(),
    );
    count(
      await trx
        .insertInto('students')
        .values(DEMO_STUDENTS.map(({ family: _family, ...s }) => ({ ...s, schoolId: DEMO_SCHOOL.id })))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute(),
    );
    count(
      await trx
        .insertInto('guardians')
        .values(
          DEMO_GUARDIANS.map(({ family: _family, relation: _relation, ...g }) => ({
            ...g,
            schoolId: DEMO_SCHOOL.id,
            whatsappOptIn: true,
            preferredLanguage: 'en',
          })),
        )
        .onConflict((oc) => oc.column('id').doNothing())
        .execute(),
    );
    count(
      await trx
        .insertInto('studentGuardians')
        .values(
          DEMO_STUDENTS.map((student) => {
            const guardian = DEMO_GUARDIANS[student.family]!;
            return {
              schoolId: DEMO_SCHOOL.id,
              studentId: student.id,
              guardianId: guardian.id,
              relation: guardian.relation,
              isPrimaryPayer: true,
            };
          }),
        )
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
    count(
      await trx
        .insertInto('users')
        .values(DEMO_STAFF.map((u) => ({ ...u, schoolId: DEMO_SCHOOL.id, passwordHash: demoHash })))
        .onConflict((oc) => oc.doNothing())
        .execute(),
    );
    return { inserted };
  });
}
