import { AppError } from '@bursar/contracts';
import { sql } from 'kysely';
import type { Trx } from './db.js';
import { lockStudent, settleStudent } from './credit.js';
import { insertInvoices, type InvoiceLineInput, type IssueInvoiceInput } from './invoices.js';
import { percentOf, splitByShares } from './money.js';

export interface FeePlanShape {
  heads: { name: string; amountMinor: bigint }[];
  instalments: { id: string; label: string; dueDate: string; shareBps: number }[];
  siblingDiscountBps: number;
}

/**
 * The lines of one instalment's invoice: each fee head's share of its annual
 * amount (the last instalment absorbs rounding, so instalments add up to the
 * head exactly), and the sibling discount when it applies.
 */
export function instalmentLines(
  plan: FeePlanShape,
  instalmentIndex: number,
  sibling: boolean,
): InvoiceLineInput[] {
  const shares = plan.instalments.map((instalment) => instalment.shareBps);
  const instalment = plan.instalments[instalmentIndex]!;
  const lines: InvoiceLineInput[] = plan.heads.map((head) => ({
    description: `${head.name} (${instalment.label})`,
    feeHead: head.name,
    quantity: 1,
    unitAmountMinor: splitByShares(head.amountMinor, shares)[instalmentIndex]!,
  }));
  if (sibling && plan.siblingDiscountBps > 0) {
    const subtotal = lines.reduce((sum, line) => sum + line.unitAmountMinor, 0n);
    const discount = percentOf(subtotal, plan.siblingDiscountBps);
    if (discount > 0n) {
      lines.push({
        description: `Sibling discount (${plan.siblingDiscountBps / 100}%)`,
        feeHead: 'sibling_discount',
        quantity: 1,
        unitAmountMinor: -discount,
      });
    }
  }
  return lines;
}

/**
 * Students who get the sibling discount: for each primary payer, every active
 * child after the first by admission number pays the discounted amount.
 */
async function discountedSiblings(trx: Trx, schoolId: string, studentIds: string[]): Promise<Set<string>> {
  if (!studentIds.length) return new Set();
  const rows = await trx
    .selectFrom('studentGuardians as sg')
    .innerJoin('students as s', 's.id', 'sg.studentId')
    .select([
      's.id',
      sql<number>`row_number() over (partition by sg.guardian_id order by s.admission_no, s.id)::int`.as(
        'birthOrder',
      ),
    ])
    .where('sg.schoolId', '=', schoolId)
    .where('sg.isPrimaryPayer', '=', true)
    .where('s.status', '=', 'active')
    .execute();
  const wanted = new Set(studentIds);
  return new Set(rows.filter((row) => row.birthOrder > 1 && wanted.has(row.id)).map((row) => row.id));
}

/**
 * Issues a fee plan: one invoice per student per instalment. Idempotent: pairs
 * already issued are skipped (the plan row is locked, so two concurrent issues
 * of the same plan cannot both create one), and credit moves onto new invoices.
 */
export async function issueFeePlan(
  trx: Trx,
  input: { schoolId: string; feePlanId: string; studentIds: string[]; issueDate: string },
): Promise<{ created: string[]; skipped: number }> {
  const plan = await trx
    .selectFrom('feePlans')
    .select(['id', 'siblingDiscountBps'])
    .where('id', '=', input.feePlanId)
    .where('schoolId', '=', input.schoolId)
    .forUpdate()
    .executeTakeFirst();
  if (!plan) throw new AppError('not_found', 'Fee plan not found');
  const heads = await trx
    .selectFrom('feePlanHeads')
    .select(['name', 'amountMinor'])
    .where('feePlanId', '=', plan.id)
    .orderBy('position')
    .execute();
  const instalments = await trx
    .selectFrom('feePlanInstalments')
    .select(['id', 'label', 'dueDate', 'shareBps'])
    .where('feePlanId', '=', plan.id)
    .orderBy('position')
    .execute();
  const shape: FeePlanShape = { heads, instalments, siblingDiscountBps: plan.siblingDiscountBps };
  const studentIds = [...new Set(input.studentIds)].sort();
  // Lock in id order: two issues over overlapping students cannot deadlock.
  for (const studentId of studentIds) await lockStudent(trx, input.schoolId, studentId);
  const existing = studentIds.length
    ? await trx
        .selectFrom('invoices')
        .select(['studentId', 'instalmentId'])
        .where('studentId', 'in', studentIds)
        .where(
          'instalmentId',
          'in',
          instalments.map((instalment) => instalment.id),
        )
        .execute()
    : [];
  const issued = new Set(existing.map((row) => `${row.studentId}/${row.instalmentId}`));
  const siblings = await discountedSiblings(trx, input.schoolId, studentIds);
  const toIssue: IssueInvoiceInput[] = [];
  for (const studentId of studentIds) {
    instalments.forEach((instalment, index) => {
      if (issued.has(`${studentId}/${instalment.id}`)) return;
      toIssue.push({
        schoolId: input.schoolId,
        studentId,
        issueDate: input.issueDate,
        dueDate: instalment.dueDate,
        lines: instalmentLines(shape, index, siblings.has(studentId)),
        feePlanId: plan.id,
        instalmentId: instalment.id,
      });
    });
  }
  const created = await insertInvoices(trx, toIssue);
  for (const studentId of new Set(toIssue.map((invoice) => invoice.studentId))) {
    await settleStudent(trx, input.schoolId, studentId);
  }
  return { created, skipped: existing.length };
}
