import type { PaymentProvider } from '@bursar/contracts';

/** A pay link or checkout session the sandbox created, as the provider would keep it. */
export interface SandboxLink {
  provider: PaymentProvider;
  /** The provider's id: `plink_…` or `cs_test_…`; also the pay page's reference. */
  id: string;
  amountMinor: number;
  /** ISO 4217 upper case (Stripe's lower-case code is upper-cased when stored). */
  currency: string;
  description: string;
  /** Razorpay `notes` / Stripe session `metadata`. */
  notes: Record<string, string>;
  /** Stripe `payment_intent_data[metadata]` (what `payment_intent.succeeded` carries); Razorpay: the notes. */
  paymentNotes: Record<string, string>;
  /** Razorpay `reference_id`; Stripe `client_reference_id`. */
  referenceId: string | null;
  returnUrl: string | null;
  expiresAt: number;
  createdAt: number;
  status: 'open' | 'paid';
  /** The payment made through it (`pay_…` / `pi_…`), once paid. */
  paymentId?: string;
}

/** A payment the sandbox made, so refunds can name it. */
export interface SandboxPayment {
  provider: PaymentProvider;
  id: string;
  /** Stripe's charge (`ch_…`), which `charge.refunded` describes. */
  chargeId: string;
  amountMinor: number;
  currency: string;
  notes: Record<string, string>;
  refunds: { id: string; amountMinor: number }[];
}

/**
 * The sandbox's memory. Kept in the process on purpose: the sandbox is a
 * stand-in for a provider on a laptop, and a restart forgetting its links is
 * what the pay page says when it meets an unknown reference.
 */
export interface SandboxStore {
  links: Map<string, SandboxLink>;
  payments: Map<string, SandboxPayment>;
  /** Razorpay refuses a `reference_id` it has seen before. */
  razorpayReferenceIds: Set<string>;
}

/** An empty sandbox memory. */
export function createSandboxStore(): SandboxStore {
  return { links: new Map(), payments: new Map(), razorpayReferenceIds: new Set() };
}
