import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { ListReconciliationQuery, ReconciliationItem, ReconciliationList } from '@bursar/contracts';
import { dismissReconciliationItem, matchReconciliationItem } from '@bursar/ledger';
import { notFound, recordAudit, type Actor } from '@bursar/platform';
import { findReconciliationItem, listReconciliationItems } from './reconciliation.repository.js';

/** `GET /api/reconciliation`: a page within the caller's scope, newest first. */
export async function listReconciliation(
  db: Kysely<DB>,
  scope: string | null,
  query: ListReconciliationQuery,
): Promise<ReconciliationList> {
  const { items, total } = await listReconciliationItems(db, scope, query);
  return { data: items, pagination: { limit: query.limit, offset: query.offset, total } };
}

/**
 * Applies an open item's money to the invoice a person chose, through the
 * ledger (exactly once: the provider's payment id is unique there), and
 * audits the decision with the item before and after, plus what the ledger
 * reports it changed (the payment), all in one transaction.
 */
export async function matchItem(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  itemId: string,
  invoiceId: string,
): Promise<ReconciliationItem> {
  return db.transaction().execute(async (trx) => {
    const before = await findReconciliationItem(trx, scope, itemId);
    if (!before) throw notFound('Reconciliation item');
    const result = await matchReconciliationItem(trx, {
      itemId,
      scope,
      invoiceId,
      resolvedBy: actor.caller.userId,
    });
    const after = (await findReconciliationItem(trx, null, itemId))!;
    await recordAudit(trx, actor, {
      action: 'reconciliation.match',
      entityType: 'reconciliation_item',
      entityId: itemId,
      schoolId: result.schoolId,
      before,
      after,
    });
    // What else the match changed (the payment; other events of it closed automatically).
    for (const entry of result.audit) await recordAudit(trx, actor, entry);
    return after;
  });
}

/** Closes an open item without touching the ledger, keeping and auditing the reason. */
export async function dismissItem(
  db: Kysely<DB>,
  actor: Actor,
  scope: string | null,
  itemId: string,
  reason: string,
): Promise<ReconciliationItem> {
  return db.transaction().execute(async (trx) => {
    const before = await findReconciliationItem(trx, scope, itemId);
    if (!before) throw notFound('Reconciliation item');
    const result = await dismissReconciliationItem(trx, {
      itemId,
      scope,
      reason,
      resolvedBy: actor.caller.userId,
    });
    const after = (await findReconciliationItem(trx, null, itemId))!;
    await recordAudit(trx, actor, {
      action: 'reconciliation.dismiss',
      entityType: 'reconciliation_item',
      entityId: itemId,
      schoolId: result.schoolId,
      before,
      after,
    });
    return after;
  });
}
