import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

export type PaymentRow = Awaited<ReturnType<typeof listPayments>>[number];

/**
 * Payments matching a filter (oldest first), scoped to a school when `scope`
 * is set, each with its refunds (oldest first): two queries for any number.
 */
export async function listPayments(
  db: Db,
  scope: string | null,
  filter: { id?: string; invoiceId?: string },
) {
  let query = db.selectFrom('payments').selectAll().orderBy('paidAt').orderBy('id');
  if (scope) query = query.where('schoolId', '=', scope);
  if (filter.id) query = query.where('id', '=', filter.id);
  if (filter.invoiceId) query = query.where('invoiceId', '=', filter.invoiceId);
  const payments = await query.execute();
  const refunds = payments.length
    ? await db
        .selectFrom('refunds')
        .select(['id', 'paymentId', 'amountMinor', 'fromCreditMinor', 'reason', 'createdAt'])
        .where(
          'paymentId',
          'in',
          payments.map((payment) => payment.id),
        )
        .orderBy('createdAt')
        .execute()
    : [];
  return payments.map((payment) => ({
    ...payment,
    refunds: refunds.filter((refund) => refund.paymentId === payment.id),
  }));
}
