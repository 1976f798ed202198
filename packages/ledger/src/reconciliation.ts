import { AppError, MAX_AMOUNT_MINOR } from '@bursar/contracts';
import type { Trx } from './db.js';
import { findProviderPayment } from './payments.js';
import { applyOnlinePayment, lockProviderPayment, type ProviderAuditEntry } from './provider-payments.js';

/**
 * The reconciliation inbox's two decisions: apply provider money to the
 * invoice a person chose, or close it with a reason. Both only for open items
 * the caller's scope sees; the api routes call them in their transaction and
 * write the audit row with their actor.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_AMOUNT = BigInt(MAX_AMOUNT_MINOR);

/** The reconciliation item, locked, if the scope sees it (a school's staff see their school's; a platform admin, all). */
async function lockItem(trx: Trx, itemId: string, scope: string | null) {
  if (!UUID.test(itemId)) throw new AppError('not_found', 'Reconciliation item not found');
  const item = await trx
    .selectFrom('reconciliationItems')
    .selectAll()
    .where('id', '=', itemId)
    .$if(scope !== null, (query) => query.where('schoolId', '=', scope))
    .forUpdate()
    .executeTakeFirst();
  if (!item) throw new AppError('not_found', 'Reconciliation item not found');
  if (item.status !== 'open') throw new AppError('conflict', `This item is already ${item.status}`);
  return item;
}

/**
 * Applies reconciliation money to an invoice a person chose: the item must be
 * open and within `scope` (404 otherwise, 409 when already resolved), the
 * invoice within the item's school (any school for a platform admin when the
 * item has none; 404 otherwise), in the item's currency (422). It goes through
 * the same path as an automatic apply, so a payment already in the ledger under
 * the provider's id is never applied twice (409). The item closes as matched,
 * its event as applied. The caller audits with its actor (`audit` lists the
 * payment and anything closed with it).
 */
export async function matchReconciliationItem(
  trx: Trx,
  input: { itemId: string; scope: string | null; invoiceId: string; resolvedBy: string | null },
): Promise<{
  paymentId: string;
  schoolId: string;
  appliedMinor: bigint;
  creditedMinor: bigint;
  /** What else the match changed (the payment row, other events of it closed), for the caller's audit trail. */
  audit: ProviderAuditEntry[];
}> {
  if (!UUID.test(input.itemId)) throw new AppError('not_found', 'Reconciliation item not found');
  const peek = await trx
    .selectFrom('reconciliationItems')
    .select(['provider', 'providerPaymentId'])
    .where('id', '=', input.itemId)
    .executeTakeFirst();
  // The payment's lock comes before the item's row lock, in the same order as the automatic path.
  if (peek) await lockProviderPayment(trx, peek.provider, peek.providerPaymentId);
  const item = await lockItem(trx, input.itemId, input.scope);
  if (!UUID.test(input.invoiceId)) throw new AppError('not_found', 'Invoice not found');
  const invoice = await trx
    .selectFrom('invoices')
    .select(['id', 'schoolId', 'currency', 'number'])
    .where('id', '=', input.invoiceId)
    .$if(item.schoolId !== null, (query) => query.where('schoolId', '=', item.schoolId!))
    .executeTakeFirst();
  if (!invoice) throw new AppError('not_found', 'Invoice not found');
  if (invoice.currency !== item.currency) {
    throw new AppError(
      'validation_failed',
      `This money is in ${item.currency}; invoice ${invoice.number} is in ${invoice.currency}`,
      { errors: [{ path: 'invoiceId', message: `the invoice must be in ${item.currency}` }] },
    );
  }
  if (item.amountMinor <= 0n || item.amountMinor > MAX_AMOUNT) {
    throw new AppError(
      'conflict',
      `${item.amountMinor} minor units cannot be applied to an invoice; dismiss it`,
    );
  }
  const existing = await findProviderPayment(trx, item.provider, item.providerPaymentId);
  if (existing) {
    throw new AppError('conflict', `This money is already in the ledger as payment ${existing.id}`);
  }
  const event = await trx
    .selectFrom('providerEvents')
    .select(['receivedAt'])
    .where('id', '=', item.eventId)
    .executeTakeFirstOrThrow();
  const audit: ProviderAuditEntry[] = [];
  const applied = await applyOnlinePayment(trx, {
    schoolId: invoice.schoolId,
    invoiceId: invoice.id,
    provider: item.provider,
    providerPaymentId: item.providerPaymentId,
    amountMinor: item.amountMinor,
    paidAt: new Date(event.receivedAt),
    providerReference: undefined,
    createdBy: input.resolvedBy,
    audit,
    matchingItemId: item.id,
  });
  await trx
    .updateTable('reconciliationItems')
    .set({
      status: 'matched',
      paymentId: applied.paymentId,
      matchedInvoiceId: invoice.id,
      resolvedBy: input.resolvedBy,
      resolvedAt: new Date(),
      // A platform admin placing money nobody could attribute gives it a school.
      schoolId: invoice.schoolId,
    })
    .where('id', '=', item.id)
    .execute();
  await trx
    .updateTable('providerEvents')
    .set({
      status: 'applied',
      paymentId: applied.paymentId,
      invoiceId: invoice.id,
      schoolId: invoice.schoolId,
      detail: `matched from reconciliation (${item.reason})`,
    })
    .where('id', '=', item.eventId)
    .execute();
  return {
    paymentId: applied.paymentId,
    schoolId: invoice.schoolId,
    appliedMinor: applied.appliedMinor,
    creditedMinor: applied.creditedMinor,
    audit,
  };
}

/** Closes an open item within `scope` without touching the ledger; the reason is kept (the caller audits). */
export async function dismissReconciliationItem(
  trx: Trx,
  input: { itemId: string; scope: string | null; reason: string; resolvedBy: string | null },
): Promise<{ itemId: string; schoolId: string | null }> {
  const reason = input.reason.trim();
  if (reason.length < 3) {
    throw new AppError('validation_failed', 'Say why this money is dismissed', {
      errors: [{ path: 'reason', message: 'a reason of at least 3 characters is required' }],
    });
  }
  const item = await lockItem(trx, input.itemId, input.scope);
  await trx
    .updateTable('reconciliationItems')
    .set({ status: 'dismissed', dismissReason: reason, resolvedBy: input.resolvedBy, resolvedAt: new Date() })
    .where('id', '=', item.id)
    .execute();
  return { itemId: item.id, schoolId: item.schoolId };
}
