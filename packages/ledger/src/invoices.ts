import { AppError } from '@bursar/contracts';
import { sql } from 'kysely';
import type { Db, Trx } from './db.js';
import { lockStudent, settleStudent } from './credit.js';
import { balanceSql, invoiceStatusSql } from './status.js';

export interface InvoiceLineInput {
  description: string;
  feeHead?: string | null;
  quantity: number;
  /** Positive for charges; negative only for discounts the ledger itself adds. */
  unitAmountMinor: bigint;
}

export interface IssueInvoiceInput {
  schoolId: string;
  studentId: string;
  issueDate: string;
  dueDate: string;
  lines: InvoiceLineInput[];
  notes?: string | null;
  feePlanId?: string | null;
  instalmentId?: string | null;
}

export function lineAmount(line: InvoiceLineInput): bigint {
  return BigInt(line.quantity) * line.unitAmountMinor;
}

/** The `invoice_lines` rows of an invoice, in order, with their computed amounts. */
function lineRows(invoiceId: string, lines: InvoiceLineInput[]) {
  return lines.map((line, position) => ({
    invoiceId,
    position,
    description: line.description,
    feeHead: line.feeHead ?? null,
    quantity: line.quantity,
    unitAmountMinor: line.unitAmountMinor,
    amountMinor: lineAmount(line),
  }));
}

export function totalOf(lines: InvoiceLineInput[]): bigint {
  const total = lines.reduce((sum, line) => sum + lineAmount(line), 0n);
  if (total < 0n) throw new AppError('validation_failed', 'An invoice total cannot be negative');
  return total;
}

/**
 * Reserves `count` consecutive invoice numbers for a school and year. The
 * counter row stays locked until the transaction ends, so numbers are
 * gap-free: a rolled-back transaction gives its numbers back.
 */
export async function reserveInvoiceNumbers(
  trx: Trx,
  schoolId: string,
  year: number,
  count: number,
): Promise<string[]> {
  const row = await trx
    .insertInto('invoiceCounters')
    .values({ schoolId, year, lastValue: count })
    .onConflict((oc) =>
      oc
        .columns(['schoolId', 'year'])
        .doUpdateSet({ lastValue: sql`invoice_counters.last_value + ${count}` }),
    )
    .returning('lastValue')
    .executeTakeFirstOrThrow();
  const first = row.lastValue - count + 1;
  return Array.from({ length: count }, (_, i) => `INV-${year}-${String(first + i).padStart(6, '0')}`);
}

/**
 * Issues invoices (one transaction, numbers reserved in one step), then moves
 * any credit the students hold onto them. The caller has locked the students.
 */
export async function insertInvoices(trx: Trx, inputs: IssueInvoiceInput[]): Promise<string[]> {
  if (!inputs.length) return [];
  const schoolId = inputs[0]!.schoolId;
  const school = await trx
    .selectFrom('schools')
    .select(['currency'])
    .where('id', '=', schoolId)
    .where('deletedAt', 'is', null)
    .executeTakeFirst();
  if (!school) throw new AppError('not_found', 'School not found');
  const ids: string[] = [];
  const byYear = new Map<number, IssueInvoiceInput[]>();
  for (const input of inputs) {
    const year = Number(input.issueDate.slice(0, 4));
    byYear.set(year, [...(byYear.get(year) ?? []), input]);
  }
  for (const [year, group] of byYear) {
    const numbers = await reserveInvoiceNumbers(trx, schoolId, year, group.length);
    const rows = await trx
      .insertInto('invoices')
      .values(
        group.map((input, i) => ({
          schoolId,
          studentId: input.studentId,
          number: numbers[i]!,
          currency: school.currency,
          issueDate: input.issueDate,
          dueDate: input.dueDate,
          notes: input.notes ?? null,
          totalMinor: totalOf(input.lines),
          feePlanId: input.feePlanId ?? null,
          instalmentId: input.instalmentId ?? null,
        })),
      )
      .returning('id')
      .execute();
    await trx
      .insertInto('invoiceLines')
      .values(group.flatMap((input, i) => lineRows(rows[i]!.id, input.lines)))
      .execute();
    ids.push(...rows.map((row) => row.id));
  }
  return ids;
}

/** Issues one invoice for a student and applies the student's credit to it. */
export async function issueInvoice(trx: Trx, input: IssueInvoiceInput): Promise<string> {
  await lockStudent(trx, input.schoolId, input.studentId);
  const [id] = await insertInvoices(trx, [input]);
  await settleStudent(trx, input.schoolId, input.studentId);
  return id!;
}

/** Replaces an invoice's lines; refused once any money has been applied to it. */
export async function replaceInvoiceLines(
  trx: Trx,
  schoolId: string,
  invoiceId: string,
  changes: { lines?: InvoiceLineInput[]; dueDate?: string; notes?: string | null },
): Promise<void> {
  const invoice = await lockInvoice(trx, schoolId, invoiceId);
  if (invoice.voidedAt) throw new AppError('conflict', 'A void invoice cannot be edited');
  if (changes.lines) {
    const payments = await trx
      .selectFrom('payments')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('invoiceId', '=', invoiceId)
      .executeTakeFirstOrThrow();
    if (payments.n > 0 || invoice.paidMinor !== 0n) {
      throw new AppError(
        'conflict',
        'This invoice has payments; its lines can no longer change. Void it and issue a new one.',
      );
    }
    await trx.deleteFrom('invoiceLines').where('invoiceId', '=', invoiceId).execute();
    await trx.insertInto('invoiceLines').values(lineRows(invoiceId, changes.lines)).execute();
  }
  await trx
    .updateTable('invoices')
    .set({
      ...(changes.lines ? { totalMinor: totalOf(changes.lines) } : {}),
      ...(changes.dueDate ? { dueDate: changes.dueDate } : {}),
      ...(changes.notes !== undefined ? { notes: changes.notes } : {}),
      updatedAt: new Date(),
    })
    .where('id', '=', invoiceId)
    .execute();
  await settleStudent(trx, schoolId, invoice.studentId);
}

/** Locks the student, then the invoice (always in that order, so concurrent money moves cannot deadlock). */
export async function lockInvoice(trx: Trx, schoolId: string, invoiceId: string) {
  const found = await trx
    .selectFrom('invoices')
    .select('studentId')
    .where('id', '=', invoiceId)
    .where('schoolId', '=', schoolId)
    .executeTakeFirst();
  if (!found) throw new AppError('not_found', 'Invoice not found');
  await lockStudent(trx, schoolId, found.studentId);
  const invoice = await trx
    .selectFrom('invoices')
    .selectAll()
    .where('id', '=', invoiceId)
    .forUpdate()
    .executeTakeFirst();
  // Deleted by whoever held the student lock while we waited for it.
  if (!invoice) throw new AppError('not_found', 'Invoice not found');
  return invoice;
}

/**
 * Voids an invoice. Money already applied to it goes back to the payments it
 * came from, so it becomes the student's credit and moves to their next open invoice.
 */
export async function voidInvoice(
  trx: Trx,
  schoolId: string,
  invoiceId: string,
  reason: string,
): Promise<void> {
  const invoice = await lockInvoice(trx, schoolId, invoiceId);
  if (invoice.voidedAt) throw new AppError('conflict', 'This invoice is already void');
  const applied = await trx
    .selectFrom('allocations')
    .select(['paymentId', sql<bigint>`sum(amount_minor)::bigint`.as('net')])
    .where('invoiceId', '=', invoiceId)
    .groupBy('paymentId')
    .having(sql`sum(amount_minor)`, '>', 0)
    .execute();
  let released = 0n;
  // The void and the money it gives back count from one instant.
  const now = new Date();
  for (const row of applied) {
    await trx
      .insertInto('allocations')
      .values({
        schoolId,
        paymentId: row.paymentId,
        invoiceId,
        amountMinor: -row.net,
        kind: 'void',
        effectiveAt: now,
      })
      .execute();
    released += row.net;
  }
  await trx
    .updateTable('invoices')
    .set({
      voidedAt: now,
      voidReason: reason,
      paidMinor: sql`paid_minor - ${released}`,
      updatedAt: new Date(),
    })
    .where('id', '=', invoiceId)
    .execute();
  if (released > 0n) {
    await trx
      .updateTable('students')
      .set({ creditMinor: sql`credit_minor + ${released}` })
      .where('id', '=', invoice.studentId)
      .execute();
  }
  await settleStudent(trx, schoolId, invoice.studentId);
}

/**
 * Deletes an invoice issued by mistake. Only the newest number of its series
 * can go, and its number is handed back, so invoice numbers stay gap-free;
 * anything with payments, or older, is voided instead (409 says so).
 */
export async function deleteInvoice(trx: Trx, schoolId: string, invoiceId: string): Promise<void> {
  const invoice = await lockInvoice(trx, schoolId, invoiceId);
  const payments = await trx
    .selectFrom('payments')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('invoiceId', '=', invoiceId)
    .executeTakeFirstOrThrow();
  const allocations = await trx
    .selectFrom('allocations')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('invoiceId', '=', invoiceId)
    .executeTakeFirstOrThrow();
  if (payments.n > 0 || allocations.n > 0) {
    throw new AppError(
      'conflict',
      `Invoice ${invoice.number} has payments recorded against it and cannot be deleted; void it instead (POST /api/invoices/${invoiceId}/void)`,
    );
  }
  const year = Number(invoice.number.slice(4, 8));
  const sequence = Number(invoice.number.slice(9));
  const counter = await trx
    .selectFrom('invoiceCounters')
    .select('lastValue')
    .where('schoolId', '=', schoolId)
    .where('year', '=', year)
    .forUpdate()
    .executeTakeFirst();
  if (counter?.lastValue !== sequence) {
    throw new AppError(
      'conflict',
      `Invoice ${invoice.number} is not the latest in its series; deleting it would leave a gap in the numbers. Void it instead (POST /api/invoices/${invoiceId}/void)`,
    );
  }
  await trx.deleteFrom('invoices').where('id', '=', invoiceId).execute();
  await trx
    .updateTable('invoiceCounters')
    .set({ lastValue: sequence - 1 })
    .where('schoolId', '=', schoolId)
    .where('year', '=', year)
    .execute();
  await settleStudent(trx, schoolId, invoice.studentId);
}

/** One invoice with its lines, derived balance and status. */
export async function getInvoice(db: Db, schoolId: string | null, invoiceId: string, asOf?: string) {
  let query = selectInvoices(db, invoiceStatusSql(asOf)).where('invoices.id', '=', invoiceId);
  if (schoolId) query = query.where('invoices.schoolId', '=', schoolId);
  const invoice = await query.executeTakeFirst();
  if (!invoice) return undefined;
  const lines = await loadInvoiceLines(db, [invoiceId]);
  return { ...invoice, lines: lines.get(invoiceId) ?? [] };
}

/**
 * Invoices as the API shows them: the row, its balance and status (from
 * `status`, so a caller filtering on it uses the same "today"), and the
 * student's credit. Narrow it with `where`; lines come from `loadInvoiceLines`.
 */
export function selectInvoices(db: Db, status: ReturnType<typeof invoiceStatusSql>) {
  return db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.schoolId')
    .innerJoin('students', 'students.id', 'invoices.studentId')
    .selectAll('invoices')
    .select([balanceSql.as('balanceMinor'), status.as('status'), 'students.creditMinor as creditMinor']);
}

/** A printed invoice line. */
export interface InvoiceLineRow {
  description: string;
  feeHead: string | null;
  quantity: number;
  unitAmountMinor: bigint;
  amountMinor: bigint;
}

/** The lines of many invoices in one query, by invoice id, each invoice's in their printed order. */
export async function loadInvoiceLines(db: Db, invoiceIds: string[]): Promise<Map<string, InvoiceLineRow[]>> {
  const byInvoice = new Map<string, InvoiceLineRow[]>();
  if (!invoiceIds.length) return byInvoice;
  const rows = await db
    .selectFrom('invoiceLines')
    .select(['invoiceId', 'description', 'feeHead', 'quantity', 'unitAmountMinor', 'amountMinor'])
    .where('invoiceId', 'in', invoiceIds)
    .orderBy('invoiceId')
    .orderBy('position')
    .execute();
  for (const { invoiceId, ...line } of rows) {
    const list = byInvoice.get(invoiceId);
    if (list) list.push(line);
    else byInvoice.set(invoiceId, [line]);
  }
  return byInvoice;
}
