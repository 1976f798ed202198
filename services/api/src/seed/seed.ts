import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import { applyPayment, issueFeePlan } from '@bursar/ledger';
import { hashPassword } from '../auth/password.js';
import {
  DEMO_ACADEMIC_YEAR,
  DEMO_CLASSES,
  DEMO_FEE_PLAN,
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
  /** Issue the demo fee plan and record payments (default true; tests start from an empty ledger). */
  billing?: boolean;
}

export interface SeedResult {
  /** People and places inserted (admin, school, classes, students, guardians, links, staff). */
  inserted: number;
  /** Invoices issued from the demo fee plan (0 once it has been issued). */
  invoices: number;
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
    return { inserted, invoices: options.billing === false ? 0 : await seedDemoBilling(trx) };
  });
}

/**
 * Issues the demo fee plan and records Term 1 payments, so a new install has
 * money to look at: most families paid, one paid half, one overpaid (credit
 * that moved to Term 2), three have not paid (overdue). Runs once: if the
 * plan exists, nothing happens, so a bursar's later changes are never redone.
 */
async function seedDemoBilling(trx: Transaction<DB>): Promise<number> {
  const existing = await trx
    .selectFrom('feePlans')
    .select('id')
    .where('id', '=', DEMO_FEE_PLAN.id)
    .executeTakeFirst();
  if (existing) return 0;
  const schoolId = DEMO_SCHOOL.id;
  await trx
    .insertInto('feePlans')
    .values({
      id: DEMO_FEE_PLAN.id,
      schoolId,
      name: DEMO_FEE_PLAN.name,
      academicYear: DEMO_FEE_PLAN.academicYear,
      siblingDiscountBps: DEMO_FEE_PLAN.siblingDiscountBps,
    })
    .execute();
  await trx
    .insertInto('feePlanHeads')
    .values(DEMO_FEE_PLAN.heads.map((head, position) => ({ feePlanId: DEMO_FEE_PLAN.id, position, ...head })))
    .execute();
  await trx
    .insertInto('feePlanInstalments')
    .values(
      DEMO_FEE_PLAN.instalments.map((instalment, position) => ({
        feePlanId: DEMO_FEE_PLAN.id,
        position,
        ...instalment,
      })),
    )
    .execute();
  const { created } = await issueFeePlan(trx, {
    schoolId,
    feePlanId: DEMO_FEE_PLAN.id,
    studentIds: DEMO_STUDENTS.map((student) => student.id),
    issueDate: '2026-04-01',
  });
  const term1 = await trx
    .selectFrom('invoices')
    .select(['id', 'studentId', 'totalMinor'])
    .where('instalmentId', '=', DEMO_FEE_PLAN.instalments[0]!.id)
    .execute();
  const byStudent = new Map(term1.map((invoice) => [invoice.studentId, invoice]));
  for (const [index, student] of DEMO_STUDENTS.entries()) {
    const invoice = byStudent.get(student.id)!;
    // Students 0–7 paid Term 1 (student 0 paid 5,000.00 extra), 8 paid half, 9–11 nothing yet.
    const amount =
      index === 0
        ? invoice.totalMinor + 500_000n
        : index < 8
          ? invoice.totalMinor
          : index === 8
            ? invoice.totalMinor / 2n
            : 0n;
    if (amount === 0n) continue;
    await applyPayment(trx, {
      schoolId,
      invoiceId: invoice.id,
      amountMinor: amount,
      method: index % 3 === 0 ? 'upi' : index % 3 === 1 ? 'bank_transfer' : 'cash',
      reference: `DEMO-T1-${String(index + 1).padStart(3, '0')}`,
      paidAt: new Date(Date.UTC(2026, 3, 5 + index)),
    });
  }
  return created.length;
}
