import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  CreateInvoiceBody,
  Invoice,
  ListInvoicesQuery,
  Paginated,
  UpdateInvoiceBody,
} from '@bursar/contracts';
import {
  deleteInvoice,
  getInvoice,
  issueInvoice,
  replaceInvoiceLines,
  todayIn,
  voidInvoice,
} from '@bursar/ledger';
import { toInvoice } from './invoices.mapper.js';
import { findStudentSchool, listInvoices as selectInvoices } from './invoices.repository.js';
import { notFound, recordAudit, writeSchool, type Actor } from '@bursar/platform';

/** Loads an invoice as the API shows it, or 404 (also for another school's invoice). */
export async function findInvoice(
  db: Kysely<DB> | Transaction<DB>,
  schoolId: string | null,
  id: string,
): Promise<Invoice> {
  const row = await getInvoice(db, schoolId, id);
  if (!row) throw notFound('Invoice');
  return toInvoice(row);
}

/** The school a student belongs to, within the caller's scope (404 otherwise). */
export async function studentSchool(
  db: Kysely<DB> | Transaction<DB>,
  scope: string | null,
  studentId: string,
) {
  const row = await findStudentSchool(db, scope, studentId);
  if (!row) throw notFound('Student');
  return row;
}

/**
 * Issues an invoice to a student. The student names the school: staff may not
 * set `schoolId`, and a platform admin need not (one that contradicts the
 * student's school is a 422).
 */
export async function createInvoice(db: Kysely<DB>, actor: Actor, body: CreateInvoiceBody) {
  const { caller } = actor;
  // Staff who name a school are refused before anything is read; platform admins look across schools.
  const scope = caller.role === 'platform_admin' ? null : writeSchool(caller, body.schoolId);
  return db.transaction().execute(async (trx) => {
    const student = await studentSchool(trx, scope, body.studentId);
    const schoolId = writeSchool(caller, body.schoolId, student.schoolId);
    const { timezone } = student;
    const id = await issueInvoice(trx, {
      schoolId,
      studentId: body.studentId,
      issueDate: body.issueDate ?? todayIn(timezone),
      dueDate: body.dueDate,
      notes: body.notes ?? null,
      lines: body.lines.map((line) => ({ ...line, unitAmountMinor: BigInt(line.unitAmountMinor) })),
    });
    const invoice = await findInvoice(trx, schoolId, id);
    await recordAudit(trx, actor, {
      action: 'invoice.create',
      entityType: 'invoice',
      entityId: id,
      schoolId,
      after: invoice,
    });
    return invoice;
  });
}

export async function updateInvoice(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  body: UpdateInvoiceBody,
) {
  return db.transaction().execute(async (trx) => {
    const before = await findInvoice(trx, scope, id);
    await replaceInvoiceLines(trx, before.schoolId, id, {
      lines: body.lines?.map((line) => ({ ...line, unitAmountMinor: BigInt(line.unitAmountMinor) })),
      dueDate: body.dueDate,
      notes: body.notes,
    });
    const after = await findInvoice(trx, before.schoolId, id);
    await recordAudit(trx, actor, {
      action: 'invoice.update',
      entityType: 'invoice',
      entityId: id,
      schoolId: before.schoolId,
      before,
      after,
    });
    return after;
  });
}

export async function voidInvoiceById(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  reason: string,
) {
  return db.transaction().execute(async (trx) => {
    const before = await findInvoice(trx, scope, id);
    await voidInvoice(trx, before.schoolId, id, reason);
    const after = await findInvoice(trx, before.schoolId, id);
    await recordAudit(trx, actor, {
      action: 'invoice.void',
      entityType: 'invoice',
      entityId: id,
      schoolId: before.schoolId,
      before,
      after,
    });
    return after;
  });
}

export async function deleteInvoiceById(db: Kysely<DB>, actor: Actor, scope: string | null, id: string) {
  await db.transaction().execute(async (trx) => {
    const before = await findInvoice(trx, scope, id);
    await deleteInvoice(trx, before.schoolId, id);
    await recordAudit(trx, actor, {
      action: 'invoice.delete',
      entityType: 'invoice',
      entityId: id,
      schoolId: before.schoolId,
      before,
    });
  });
}

export async function listInvoices(
  db: Kysely<DB>,
  scope: string | null,
  query: ListInvoicesQuery,
): Promise<Paginated<Invoice>> {
  const { rows, total } = await selectInvoices(db, scope, query);
  return { data: rows.map(toInvoice), pagination: { limit: query.limit, offset: query.offset, total } };
}
