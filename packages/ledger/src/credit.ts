import { AppError } from '@bursar/contracts';
import { sql } from 'kysely';
import type { Trx } from './db.js';
import { minBig } from './money.js';

/**
 * Locks a student row. Every change to a student's money (payments, refunds,
 * credit moves, voids, new invoices) takes this lock first, so they apply one
 * at a time per student and no update is lost.
 */
export async function lockStudent(trx: Trx, schoolId: string, studentId: string) {
  const student = await trx
    .selectFrom('students')
    .select(['id', 'creditMinor'])
    .where('id', '=', studentId)
    .where('schoolId', '=', schoolId)
    .forUpdate()
    .executeTakeFirst();
  if (!student) throw new AppError('not_found', 'Student not found');
  return student;
}

/** Each of a student's payments with money not yet applied to an invoice, oldest first. */
export function unallocatedPayments(trx: Trx, studentId: string) {
  return trx
    .selectFrom('payments')
    .leftJoin('allocations', 'allocations.paymentId', 'payments.id')
    .select([
      'payments.id',
      sql<bigint>`(payments.amount_minor - payments.refunded_minor - coalesce(sum(allocations.amount_minor), 0))::bigint`.as(
        'unallocatedMinor',
      ),
    ])
    .where('payments.studentId', '=', studentId)
    .groupBy('payments.id')
    .having(
      sql`payments.amount_minor - payments.refunded_minor - coalesce(sum(allocations.amount_minor), 0)`,
      '>',
      0,
    )
    .orderBy('payments.paidAt')
    .orderBy('payments.id')
    .execute();
}

/**
 * Moves a student's credit onto their open invoices, oldest due first. The
 * caller holds the student lock. Returns how much credit was applied.
 */
export async function applyCredit(trx: Trx, schoolId: string, studentId: string): Promise<bigint> {
  const student = await trx
    .selectFrom('students')
    .select('creditMinor')
    .where('id', '=', studentId)
    .executeTakeFirstOrThrow();
  if (student.creditMinor <= 0n) return 0n;
  const open = await trx
    .selectFrom('invoices')
    .select(['id', sql<bigint>`total_minor - paid_minor + refunded_minor`.as('balance')])
    .where('studentId', '=', studentId)
    .where('voidedAt', 'is', null)
    .where(sql<boolean>`total_minor - paid_minor + refunded_minor > 0`)
    .orderBy('dueDate')
    .orderBy('issueDate')
    .orderBy('number')
    .forUpdate()
    .execute();
  if (!open.length) return 0n;
  const sources = await unallocatedPayments(trx, studentId);
  let credit = student.creditMinor;
  let applied = 0n;
  const now = new Date();
  let source = 0;
  let available = sources[0]?.unallocatedMinor ?? 0n;
  for (const invoice of open) {
    let due = invoice.balance;
    while (due > 0n && credit > 0n && source < sources.length) {
      const take = minBig(minBig(due, available), credit);
      await trx
        .insertInto('allocations')
        .values({
          schoolId,
          paymentId: sources[source]!.id,
          invoiceId: invoice.id,
          amountMinor: take,
          kind: 'credit',
          effectiveAt: now,
        })
        .execute();
      await trx
        .updateTable('invoices')
        .set({ paidMinor: sql`paid_minor + ${take}`, updatedAt: new Date() })
        .where('id', '=', invoice.id)
        .execute();
      due -= take;
      credit -= take;
      applied += take;
      available -= take;
      if (available === 0n) {
        source += 1;
        available = sources[source]?.unallocatedMinor ?? 0n;
      }
    }
    if (credit === 0n || source >= sources.length) break;
  }
  if (applied > 0n) {
    await trx
      .updateTable('students')
      .set({ creditMinor: sql`credit_minor - ${applied}` })
      .where('id', '=', studentId)
      .execute();
  }
  return applied;
}

/**
 * Recomputes a student's running totals from their invoices and payments,
 * and their totals by fee head (`student_fee_heads`).
 * Cheap (one student's rows, under the student lock) and always exact, so no
 * operation has to get a delta right.
 */
export async function refreshStudentTotals(trx: Trx, studentId: string): Promise<void> {
  await sql`
    update students set
      invoiced_minor = i.invoiced,
      balance_minor = i.balance,
      paid_minor = p.paid,
      refunded_minor = p.refunded
    from
      (select coalesce(sum(total_minor) filter (where voided_at is null), 0)::bigint as invoiced,
              coalesce(sum(total_minor - paid_minor + refunded_minor) filter (where voided_at is null), 0)::bigint as balance
         from invoices where student_id = ${studentId}) i,
      (select coalesce(sum(amount_minor), 0)::bigint as paid, coalesce(sum(refunded_minor), 0)::bigint as refunded
         from payments where student_id = ${studentId}) p
    where students.id = ${studentId}`.execute(trx);
  // The same totals by fee head (the view holds the split rule; migration 0012).
  await sql`
    with fresh as (
      select student_id, fee_head, school_id, invoiced_minor, collected_minor, outstanding_minor
        from student_fee_head_totals where student_id = ${studentId}
    ),
    kept as (
      insert into student_fee_heads (student_id, fee_head, school_id, invoiced_minor, collected_minor, outstanding_minor)
      select * from fresh
      on conflict (student_id, fee_head) do update set invoiced_minor = excluded.invoiced_minor,
        collected_minor = excluded.collected_minor, outstanding_minor = excluded.outstanding_minor
    )
    delete from student_fee_heads s
     where s.student_id = ${studentId} and not exists (select 1 from fresh f where f.fee_head = s.fee_head)`.execute(
    trx,
  );
  await assertReportable(trx, studentId);
}

/**
 * Statements send money as JSON numbers, exact only up to 2^53 − 1. A change
 * that would take a school's totals past that is refused (and rolled back)
 * rather than accepted and then unreportable. Checked across the school, so
 * every student's totals are covered too.
 */
async function assertReportable(trx: Trx, studentId: string): Promise<void> {
  const { rows } = await sql<{ invoiced: string; paid: string }>`
    select coalesce(sum(invoiced_minor), 0)::text as invoiced, coalesce(sum(paid_minor), 0)::text as paid
      from students where school_id = (select school_id from students where id = ${studentId})`.execute(trx);
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  const totals = rows[0]!;
  if (BigInt(totals.invoiced) > limit || BigInt(totals.paid) > limit) {
    throw new AppError(
      'validation_failed',
      "This would take the school's totals past what Bursar can report exactly (2^53 − 1 minor units)",
    );
  }
}

/**
 * Ends every money change for a student: credit moves onto open invoices and
 * the running totals are recomputed. The caller holds the student lock.
 */
export async function settleStudent(trx: Trx, schoolId: string, studentId: string): Promise<void> {
  await applyCredit(trx, schoolId, studentId);
  await refreshStudentTotals(trx, studentId);
}
