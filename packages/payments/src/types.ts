import type { PaymentProvider } from '@bursar/contracts';

/**
 * The two payment providers, as Bursar speaks to them: their REST APIs (pay
 * links), their webhooks (signature, event identity) and what their events
 * mean (a payment, a refund, a failure). Each provider has one module per
 * concern; the worker, billing-webhook and the api each use the part they need,
 * and the sandbox speaks the same formats, so production code paths are the
 * ones the tests and a laptop exercise.
 */

/** Ids Bursar puts in Razorpay `notes` / Stripe `metadata` so events find their invoice. */
export interface PaymentNotes {
  invoiceId?: string;
  schoolId?: string;
  invoiceNumber?: string;
}

/** A payment the provider says it captured. */
export interface ProviderPayment {
  kind: 'payment';
  provider: PaymentProvider;
  /** The provider's payment id (`pay_…`, Stripe PaymentIntent `pi_…`): one payment, whatever the event type. */
  providerPaymentId: string;
  /** Integer minor units as the provider sends them (paise, cents). */
  amountMinor: bigint;
  /** ISO 4217, upper case. */
  currency: string;
  paidAt: Date;
  notes: PaymentNotes;
  /** The link or session it was paid through (`plink_…`, `cs_…`), when the event says. */
  providerReference?: string;
}

/** A refund the provider processed, of a payment identified by its provider id. */
export interface ProviderRefund {
  kind: 'refund';
  provider: PaymentProvider;
  providerPaymentId: string;
  /** The provider's refund id (`rfnd_…`, `re_…`): one refund, however often it is delivered. */
  providerRefundId: string;
  amountMinor: bigint;
  currency: string;
}

/** A payment attempt that failed: recorded, never applied. */
export interface ProviderFailure {
  kind: 'failed';
  provider: PaymentProvider;
  providerPaymentId: string;
  reason: string;
}

/** An event type Bursar does not act on (stored as ignored). */
export interface ProviderIgnored {
  kind: 'ignored';
  provider: PaymentProvider;
  type: string;
}

/**
 * What one webhook event means. A single Stripe `charge.refunded` can report
 * several refunds, so an event is a list of facts.
 */
export type ProviderFact = ProviderPayment | ProviderRefund | ProviderFailure | ProviderIgnored;

/** How a stored webhook is identified: the provider's event id and type. */
export interface EventIdentity {
  eventId: string;
  type: string;
}

/** Why a webhook was refused (counted in metrics by reason; never echoed with secrets). */
export type SignatureFailure = 'missing_header' | 'malformed_header' | 'mismatch' | 'stale_timestamp';

/** A pay link request Bursar sends a provider. */
export interface CreateLinkInput {
  amountMinor: bigint;
  currency: string;
  /** Shown to the payer. */
  description: string;
  notes: Required<PaymentNotes>;
  /** Where the provider sends the payer afterwards. */
  returnUrl?: string;
  expiresAt: Date;
}

/** A pay link a provider created. */
export interface CreatedLink {
  providerReference: string;
  url: string;
  expiresAt: Date;
}
