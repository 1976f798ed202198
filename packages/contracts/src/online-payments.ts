import { z } from 'zod';
import { AmountMinor, CurrencyCode, Id, IsoDateTime, paginated, PaginationQuery } from './common.js';

/** The payment providers Bursar takes online payments through. */
export const PaymentProvider = z.enum(['razorpay', 'stripe']);
export type PaymentProvider = z.infer<typeof PaymentProvider>;

/** `POST /api/invoices/:id/payment-link`: a pay link for the invoice's current balance. */
export const CreatePaymentLinkBody = z.strictObject({ provider: PaymentProvider });
export type CreatePaymentLinkBody = z.infer<typeof CreatePaymentLinkBody>;

/**
 * A Razorpay Payment Link or Stripe Checkout Session for one invoice.
 * `providerReference` is the provider's id (`plink_…`, `cs_…`); events are
 * matched to the invoice by the ids in their notes/metadata, else by it.
 */
export const PaymentLink = z.object({
  id: Id,
  invoiceId: Id,
  provider: PaymentProvider,
  providerReference: z.string(),
  url: z.url(),
  amountMinor: AmountMinor,
  currency: CurrencyCode,
  status: z.enum(['open', 'paid', 'expired', 'cancelled']),
  expiresAt: IsoDateTime,
  createdAt: IsoDateTime,
});
export type PaymentLink = z.infer<typeof PaymentLink>;

/** What became of a provider event Bursar received (`provider_events.status`). */
export const ProviderEventStatus = z.enum([
  /** Stored; the worker has not acted on it yet. */
  'received',
  /** Applied to an invoice as a payment. */
  'applied',
  /** A payment already applied from another event or delivery: nothing done. */
  'duplicate',
  /** Recorded as a refund of a payment. */
  'refunded',
  /** Kept for the record, never applied (a failed payment). */
  'recorded',
  /** A type Bursar does not act on. */
  'ignored',
  /** Could not be matched safely: waiting in the reconciliation inbox. */
  'reconciliation',
]);
export type ProviderEventStatus = z.infer<typeof ProviderEventStatus>;

/** One provider event of an online payment, as `GET /api/payments/:id` lists them. */
export const PaymentEvent = z.object({
  provider: PaymentProvider,
  eventId: z.string(),
  type: z.string(),
  status: ProviderEventStatus,
  receivedAt: IsoDateTime,
  processedAt: IsoDateTime.nullable(),
});
export type PaymentEvent = z.infer<typeof PaymentEvent>;

/** Why provider money waits for a person instead of reaching the ledger. */
export const ReconciliationReason = z.enum([
  /** The notes/metadata name an invoice Bursar does not have. */
  'unknown_invoice',
  /** The invoice exists but belongs to another school than the notes say. */
  'school_mismatch',
  /** The payment's currency is not the invoice's. */
  'currency_mismatch',
  /** Zero, negative, or more than an amount Bursar can hold. */
  'amount_out_of_range',
  /** Neither ids in notes/metadata nor a link Bursar created. */
  'no_reference',
  /** The invoice was voided before the money arrived. */
  'invoice_void',
]);
export type ReconciliationReason = z.infer<typeof ReconciliationReason>;

/** Provider money that could not be put on an invoice by itself. `schoolId` is null when nothing says whose it is. */
export const ReconciliationItem = z.object({
  id: Id,
  schoolId: Id.nullable(),
  provider: PaymentProvider,
  providerPaymentId: z.string(),
  eventId: z.string(),
  amountMinor: z.number().int(),
  currency: z.string(),
  reason: ReconciliationReason,
  detail: z.string(),
  status: z.enum(['open', 'matched', 'dismissed']),
  matchedInvoiceId: Id.nullable(),
  paymentId: Id.nullable(),
  dismissReason: z.string().nullable(),
  resolvedBy: Id.nullable(),
  resolvedAt: IsoDateTime.nullable(),
  createdAt: IsoDateTime,
});
export type ReconciliationItem = z.infer<typeof ReconciliationItem>;

/** `GET /api/reconciliation`: newest first; platform admins may narrow to a school. */
export const ListReconciliationQuery = PaginationQuery.extend({
  status: z.enum(['open', 'matched', 'dismissed']).optional(),
  schoolId: Id.optional(),
}).strict();
export type ListReconciliationQuery = z.infer<typeof ListReconciliationQuery>;

export const ReconciliationList = paginated(ReconciliationItem);
export type ReconciliationList = z.infer<typeof ReconciliationList>;

/** `POST /api/reconciliation/:id/match`: apply the money to this invoice (same currency, its school). */
export const MatchReconciliationBody = z.strictObject({ invoiceId: Id });
export type MatchReconciliationBody = z.infer<typeof MatchReconciliationBody>;

/** `POST /api/reconciliation/:id/dismiss`: close it without touching the ledger; the reason is kept and audited. */
export const DismissReconciliationBody = z.strictObject({
  reason: z.string().trim().min(3).max(500),
});
export type DismissReconciliationBody = z.infer<typeof DismissReconciliationBody>;
