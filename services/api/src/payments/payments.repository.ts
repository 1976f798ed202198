import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';

type Db = Kysely<DB> | Transaction<DB>;

export type PaymentRow = Awaited<ReturnType<typeof listPayments>>[number];

/**
 * Payments matching a filter (oldest first), scoped to a school when `scope`
 * is set, each with its refunds and, for online payments, the provider events
 * about it (both oldest first): at most three queries for any number.
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
  const online = payments.filter((payment) => payment.provider && payment.providerPaymentId);
  // An event names its payment once the worker applied it (payment_id); one that has only the
  // provider's payment id (a refund that waited for its capture, say) belongs to it as well.
  const events = online.length
    ? await db
        .selectFrom('providerEvents')
        .select([
          'provider',
          'eventId',
          'eventType',
          'status',
          'receivedAt',
          'processedAt',
          'paymentId',
          'providerPaymentId',
        ])
        .where((eb) =>
          eb.or([
            eb(
              'paymentId',
              'in',
              online.map((payment) => payment.id),
            ),
            eb(
              'providerPaymentId',
              'in',
              online.map((payment) => payment.providerPaymentId!),
            ),
          ]),
        )
        .orderBy('receivedAt')
        .orderBy('id')
        .execute()
    : [];
  return payments.map((payment) => ({
    ...payment,
    refunds: refunds.filter((refund) => refund.paymentId === payment.id),
    events: events.filter(
      (event) =>
        event.paymentId === payment.id ||
        (event.provider === payment.provider && event.providerPaymentId === payment.providerPaymentId),
    ),
  }));
}
