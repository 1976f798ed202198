import { Router } from 'express';
import {
  DismissReconciliationBody,
  IdParams,
  ListReconciliationQuery,
  MatchReconciliationBody,
  ReconciliationItem,
  ReconciliationList,
} from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { dismissItem, listReconciliation, matchItem } from './reconciliation.service.js';

/**
 * The reconciliation inbox: provider money the worker could not put on an
 * invoice by itself, for finance staff to match or dismiss. Tenant-scoped
 * (another school's item is a 404); items no school could be found for are
 * seen only by platform admins.
 */
export function reconciliationRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.get(
    '/api/reconciliation',
    route(
      {
        permission: 'reconciliation:read',
        query: ListReconciliationQuery,
        response: ReconciliationList,
        summary: 'Provider money waiting for a person (filter by status, e.g. open), newest first',
        tags: ['reconciliation'],
      },
      ({ query, caller }) => listReconciliation(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.post(
    '/api/reconciliation/:id/match',
    route(
      {
        permission: 'reconciliation:write',
        params: IdParams,
        body: MatchReconciliationBody,
        response: ReconciliationItem,
        summary:
          "Apply the item's money to an invoice of its school, in its currency, then close it as matched",
        tags: ['reconciliation'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) => matchItem(db, actor, readScope(caller), params.id, body.invoiceId),
    ),
  );

  router.post(
    '/api/reconciliation/:id/dismiss',
    route(
      {
        permission: 'reconciliation:write',
        params: IdParams,
        body: DismissReconciliationBody,
        response: ReconciliationItem,
        summary: 'Close the item without touching the ledger; the reason is kept and audited',
        tags: ['reconciliation'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) => dismissItem(db, actor, readScope(caller), params.id, body.reason),
    ),
  );

  return router;
}
