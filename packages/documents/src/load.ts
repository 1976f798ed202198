import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import { balanceSql, invoiceStatusSql, loadInvoiceLines } from '@bursar/ledger';
import type { ObjectStorage } from '@bursar/storage';
import type { InvoiceDocument, InvoiceStamp, ReceiptDocument, SchoolHeader } from './model.js';

type Db = Kysely<DB> | Transaction<DB>;

/** Where a school's logo is kept in object storage (uploaded through the api). */
export function schoolLogoKey(schoolId: string): string {
  return `schools/${schoolId}/logo`;
}

/**
 * School logos by school and upload time: a batch of thousands of invoices
 * reads the logo once, and a new upload (a new `logo_updated_at`) is a new key.
 */
export class LogoCache {
  private readonly entries = new Map<string, Buffer | null>();

  constructor(
    private readonly storage: ObjectStorage,
    private readonly limit = 200,
  ) {}

  async get(schoolId: string, updatedAt: Date | null): Promise<Buffer | null> {
    if (!updatedAt) return null;
    const key = `${schoolId}@${updatedAt.getTime()}`;
    if (this.entries.has(key)) return this.entries.get(key)!;
    const logo = await this.storage.getBuffer(schoolLogoKey(schoolId));
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, logo);
    return logo;
  }
}

export interface LoadOptions {
  logos: LogoCache;
  /** The pay link printed for an invoice with a balance (see `payPageUrl`); null prints none. */
  payLink: (invoiceId: string) => string | null;
  /** The clock that decides "overdue" (the application's, so tests can move it). */
  now?: Date;
}

/** What an invoice's document model was loaded with, beside the model: for the `documents` row. */
export interface LoadedInvoice {
  model: InvoiceDocument;
  schoolId: string;
  status: string;
  balanceMinor: bigint;
}

const STAMPS: Record<string, InvoiceStamp | null> = {
  paid: 'PAID',
  partial: 'PARTIAL',
  overdue: 'OVERDUE',
  void: 'VOID',
  pending: null,
};

function schoolHeader(row: {
  schoolName: string;
  address: string | null;
  contactEmail: string | null;
  contactPhone: string | null;
  currency: string;
  locale: string;
}): Omit<SchoolHeader, 'logo'> {
  return {
    name: row.schoolName,
    address: row.address,
    contactEmail: row.contactEmail,
    contactPhone: row.contactPhone,
    currency: row.currency,
    locale: row.locale,
  };
}

/** The primary payer's name of the row's student (the first guardian linked when none is marked primary). */
const payerName = sql<string | null>`(select guardians.name from student_guardians
  join guardians on guardians.id = student_guardians.guardian_id
  where student_guardians.student_id = students.id
  order by student_guardians.is_primary_payer desc, student_guardians.created_at
  limit 1)`;

/** An invoice as its PDF shows it now, or undefined when the invoice does not exist. */
export async function loadInvoiceDocument(
  db: Db,
  invoiceId: string,
  options: LoadOptions,
): Promise<LoadedInvoice | undefined> {
  return (await loadInvoiceDocuments(db, [invoiceId], options)).get(invoiceId);
}

/**
 * Invoices as their PDFs show them now, by id, in two queries however many
 * (a bulk render loads its invoices a chunk at a time); an id that does not
 * exist is left out.
 */
export async function loadInvoiceDocuments(
  db: Db,
  invoiceIds: readonly string[],
  options: LoadOptions,
): Promise<Map<string, LoadedInvoice>> {
  const loaded = new Map<string, LoadedInvoice>();
  if (invoiceIds.length === 0) return loaded;
  const rows = await db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.schoolId')
    .innerJoin('students', 'students.id', 'invoices.studentId')
    .leftJoin('classes', 'classes.id', 'students.classId')
    .select([
      'invoices.id',
      'invoices.schoolId',
      'invoices.number',
      'invoices.issueDate',
      'invoices.dueDate',
      'invoices.notes',
      'invoices.totalMinor',
      'invoices.paidMinor',
      'invoices.refundedMinor',
      'invoices.voidReason',
      balanceSql.as('balanceMinor'),
      invoiceStatusSql(undefined, options.now).as('status'),
      'schools.name as schoolName',
      'schools.address',
      'schools.contactEmail',
      'schools.contactPhone',
      'schools.currency',
      'schools.locale',
      'schools.logoUpdatedAt',
      'students.firstName',
      'students.lastName',
      'students.admissionNo',
      'classes.name as className',
      payerName.as('guardianName'),
    ])
    .where('invoices.id', 'in', [...invoiceIds])
    .execute();
  const linesByInvoice = await loadInvoiceLines(
    db,
    rows.map((row) => row.id),
  );
  for (const row of rows) {
    const lines = linesByInvoice.get(row.id) ?? [];
    const balanceMinor = BigInt(row.balanceMinor);
    let subtotalMinor = 0n;
    let discountMinor = 0n;
    for (const line of lines) {
      if (line.amountMinor < 0n) discountMinor -= line.amountMinor;
      else subtotalMinor += line.amountMinor;
    }
    const model: InvoiceDocument = {
      school: { ...schoolHeader(row), logo: await options.logos.get(row.schoolId, row.logoUpdatedAt) },
      invoice: {
        number: row.number,
        issueDate: row.issueDate,
        dueDate: row.dueDate,
        notes: row.notes,
        stamp: STAMPS[row.status] ?? null,
        lines,
        subtotalMinor,
        discountMinor,
        paidMinor: row.paidMinor,
        refundedMinor: row.refundedMinor,
        balanceMinor,
        voidReason: row.voidReason,
      },
      student: {
        fullName: `${row.firstName} ${row.lastName}`.trim(),
        admissionNo: row.admissionNo,
        className: row.className,
      },
      guardian: row.guardianName ? { name: row.guardianName } : null,
      payLink: balanceMinor > 0n && row.status !== 'void' ? options.payLink(row.id) : null,
    };
    loaded.set(row.id, { model, schoolId: row.schoolId, status: row.status, balanceMinor });
  }
  return loaded;
}

/** What a receipt's document model was loaded with, beside the model. */
export interface LoadedReceipt {
  model: ReceiptDocument;
  schoolId: string;
}

/**
 * A payment's receipt as it prints now, or undefined when the payment does not
 * exist. The balance after is the invoice's as this payment left it: money
 * allocated and refunded on the invoice up to this payment's transaction.
 */
export async function loadReceiptDocument(
  db: Db,
  paymentId: string,
  options: Pick<LoadOptions, 'logos'>,
): Promise<LoadedReceipt | undefined> {
  const row = await db
    .selectFrom('payments')
    .innerJoin('invoices', 'invoices.id', 'payments.invoiceId')
    .innerJoin('schools', 'schools.id', 'payments.schoolId')
    .innerJoin('students', 'students.id', 'payments.studentId')
    .leftJoin('classes', 'classes.id', 'students.classId')
    .select([
      'payments.id',
      'payments.schoolId',
      'payments.amountMinor',
      'payments.refundedMinor',
      'payments.method',
      'payments.reference',
      'payments.provider',
      'payments.providerPaymentId',
      'payments.paidAt',
      'invoices.number as invoiceNumber',
      'invoices.totalMinor',
      'invoices.voidedAt',
      'schools.name as schoolName',
      'schools.address',
      'schools.contactEmail',
      'schools.contactPhone',
      'schools.currency',
      'schools.locale',
      'schools.timezone',
      'schools.logoUpdatedAt',
      'students.firstName',
      'students.lastName',
      'students.admissionNo',
      'classes.name as className',
      payerName.as('payerName'),
      // The receipt's ordinal among the invoice's payments, so its number is stable.
      sql<string>`(select count(*) from payments earlier
        where earlier.invoice_id = payments.invoice_id
          and (earlier.created_at, earlier.id) <= (payments.created_at, payments.id))`.as('ordinal'),
      sql<string>`(select coalesce(sum(a.amount_minor), 0) from allocations a
        where a.invoice_id = payments.invoice_id and a.created_at <= payments.created_at)`.as(
        'allocatedMinor',
      ),
      sql<string>`(select coalesce(sum(r.amount_minor - r.from_credit_minor), 0) from refunds r
        join payments paid on paid.id = r.payment_id
        where paid.invoice_id = payments.invoice_id and r.created_at <= payments.created_at)`.as(
        'invoiceRefundedMinor',
      ),
    ])
    .where('payments.id', '=', paymentId)
    .executeTakeFirst();
  if (!row) return undefined;
  const balanceAfter = row.voidedAt
    ? 0n
    : row.totalMinor - BigInt(row.allocatedMinor) + BigInt(row.invoiceRefundedMinor);
  const model: ReceiptDocument = {
    school: { ...schoolHeader(row), logo: await options.logos.get(row.schoolId, row.logoUpdatedAt) },
    receipt: {
      number: `RCT-${row.invoiceNumber}-${row.ordinal}`,
      paidAt: row.paidAt.toISOString(),
      timeZone: row.timezone,
      amountMinor: row.amountMinor,
      method: row.method,
      reference: row.providerPaymentId ?? row.reference,
      provider: row.provider,
      refundedMinor: row.refundedMinor,
    },
    payer: row.payerName ? { name: row.payerName } : null,
    student: {
      fullName: `${row.firstName} ${row.lastName}`.trim(),
      admissionNo: row.admissionNo,
      className: row.className,
    },
    invoice: {
      number: row.invoiceNumber,
      totalMinor: row.totalMinor,
      balanceAfterMinor: balanceAfter > 0n ? balanceAfter : 0n,
    },
  };
  return { model, schoolId: row.schoolId };
}
