import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, PaymentLinks } from '@bursar/db';
import type { PaymentProvider } from '@bursar/contracts';

type Db = Kysely<DB> | Transaction<DB>;

/** A `payment_links` row as the api reads it. */
export type PaymentLinkRow = Selectable<PaymentLinks>;

/**
 * Serialises pay-link requests for one invoice until the transaction ends:
 * the check for an open link, the provider call and the insert happen under
 * it, so two requests at once make one link (and one provider call). An
 * advisory lock, not the invoice row's lock, so payments being applied to the
 * invoice meanwhile do not wait on a provider's API.
 */
export async function lockInvoiceLinks(trx: Transaction<DB>, invoiceId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${invoiceId}::text, 0))`.execute(trx);
}

/**
 * The open link for this invoice, provider and amount that is still good
 * after `usableUntil` (newest first), if any.
 */
export function findOpenLink(
  db: Db,
  filter: { invoiceId: string; provider: PaymentProvider; amountMinor: bigint; usableUntil: Date },
): Promise<PaymentLinkRow | undefined> {
  return db
    .selectFrom('paymentLinks')
    .selectAll()
    .where('invoiceId', '=', filter.invoiceId)
    .where('provider', '=', filter.provider)
    .where('amountMinor', '=', filter.amountMinor)
    .where('status', '=', 'open')
    .where('expiresAt', '>', filter.usableUntil)
    .orderBy('createdAt', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Marks the invoice's open links whose time has passed as expired, so their status says what the provider would. */
export async function expireLinks(db: Db, invoiceId: string, now: Date): Promise<void> {
  await db
    .updateTable('paymentLinks')
    .set({ status: 'expired' })
    .where('invoiceId', '=', invoiceId)
    .where('status', '=', 'open')
    .where('expiresAt', '<=', now)
    .execute();
}

/** Stores a link a provider created. */
export function insertLink(db: Db, row: Insertable<PaymentLinks>): Promise<PaymentLinkRow> {
  return db.insertInto('paymentLinks').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The name a school shows payers. */
export async function findSchoolName(db: Db, schoolId: string): Promise<string> {
  const row = await db
    .selectFrom('schools')
    .select('name')
    .where('id', '=', schoolId)
    .executeTakeFirstOrThrow();
  return row.name;
}

/** The currency of an invoice in any school (the pay page names no school), or undefined when there is none. */
export async function findInvoiceCurrency(db: Db, invoiceId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('invoices')
    .select('currency')
    .where('id', '=', invoiceId)
    .executeTakeFirst();
  return row?.currency;
}
