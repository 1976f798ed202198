import type { Invoice } from '@bursar/contracts';
import { toNumber } from '@bursar/ledger';
import type { InvoiceRow } from './invoices.repository.js';

/** Database row → API shape: bigint money to JSON numbers, timestamps to ISO strings. */
export function toInvoice(row: InvoiceRow): Invoice {
  return {
    id: row.id,
    schoolId: row.schoolId,
    studentId: row.studentId,
    number: row.number,
    currency: row.currency,
    issueDate: row.issueDate,
    dueDate: row.dueDate,
    notes: row.notes,
    lines: row.lines.map((line) => ({
      description: line.description,
      feeHead: line.feeHead,
      quantity: line.quantity,
      unitAmountMinor: toNumber(line.unitAmountMinor),
      amountMinor: toNumber(line.amountMinor),
    })),
    totalMinor: toNumber(row.totalMinor),
    paidMinor: toNumber(row.paidMinor),
    refundedMinor: toNumber(row.refundedMinor),
    balanceMinor: toNumber(row.balanceMinor),
    creditMinor: toNumber(row.creditMinor),
    status: row.status as Invoice['status'],
    feePlanId: row.feePlanId,
    instalmentId: row.instalmentId,
    voidedAt: row.voidedAt?.toISOString() ?? null,
    voidReason: row.voidReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
