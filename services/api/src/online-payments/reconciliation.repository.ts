import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type { ListReconciliationQuery, ReconciliationItem } from '@bursar/contracts';
import { toNumber } from '@bursar/ledger';

type Db = Kysely<DB> | Transaction<DB>;

/**
 * Reconciliation items with the provider's event id (what an operator looks
 * up in the provider's dashboard), within `scope`: a school's staff see their
 * school's; items nobody could attribute (school_id null) only a platform
 * admin, whose scope is null, sees.
 */
function selectItems(db: Db, scope: string | null) {
  return db
    .selectFrom('reconciliationItems')
    .innerJoin('providerEvents', 'providerEvents.id', 'reconciliationItems.eventId')
    .$if(scope !== null, (query) => query.where('reconciliationItems.schoolId', '=', scope))
    .selectAll('reconciliationItems')
    .select('providerEvents.eventId as providerEventId');
}

type ItemRow = Awaited<ReturnType<ReturnType<typeof selectItems>['executeTakeFirstOrThrow']>>;

function toItem(row: ItemRow): ReconciliationItem {
  return {
    id: row.id,
    schoolId: row.schoolId,
    provider: row.provider as ReconciliationItem['provider'],
    providerPaymentId: row.providerPaymentId,
    eventId: row.providerEventId,
    amountMinor: toNumber(row.amountMinor),
    currency: row.currency,
    reason: row.reason as ReconciliationItem['reason'],
    detail: row.detail,
    status: row.status as ReconciliationItem['status'],
    matchedInvoiceId: row.matchedInvoiceId,
    paymentId: row.paymentId,
    dismissReason: row.dismissReason,
    resolvedBy: row.resolvedBy,
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/** A page of reconciliation items within `scope`, newest first, and how many there are. */
export async function listReconciliationItems(
  db: Db,
  scope: string | null,
  query: ListReconciliationQuery,
): Promise<{ items: ReconciliationItem[]; total: number }> {
  let base = db.selectFrom('reconciliationItems');
  if (scope !== null) base = base.where('schoolId', '=', scope);
  if (query.status) base = base.where('status', '=', query.status);
  let page = selectItems(db, scope);
  if (query.status) page = page.where('reconciliationItems.status', '=', query.status);
  const [rows, count] = await Promise.all([
    page
      .orderBy('reconciliationItems.createdAt', 'desc')
      .orderBy('reconciliationItems.id', 'desc')
      .limit(query.limit)
      .offset(query.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
  ]);
  return { items: rows.map(toItem), total: count.n };
}

/** One reconciliation item within `scope`, if the scope sees it. */
export async function findReconciliationItem(
  db: Db,
  scope: string | null,
  id: string,
): Promise<ReconciliationItem | undefined> {
  const row = await selectItems(db, scope).where('reconciliationItems.id', '=', id).executeTakeFirst();
  return row ? toItem(row) : undefined;
}
