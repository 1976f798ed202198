import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import { AppError, type PaymentLink, type PaymentProvider } from '@bursar/contracts';
import { toNumber } from '@bursar/ledger';
import {
  createRazorpayPaymentLink,
  createStripeCheckoutSession,
  providerApiBases,
  type CreatedLink,
  type CreateLinkInput,
  type PaymentsConfig,
} from '@bursar/payments';
import {
  fieldError,
  isUniqueViolation,
  recordAudit,
  type Actor,
  type Logger,
  type SystemActor,
} from '@bursar/platform';
import { findInvoice } from '../invoices/invoices.service.js';
import {
  expireLinks,
  findOpenLink,
  findSchoolName,
  insertLink,
  lockInvoiceLinks,
  type PaymentLinkRow,
} from './payment-links.repository.js';

/**
 * How long a new link stays payable. Razorpay allows long-lived links, and a
 * week covers a reminder cycle; a Stripe Checkout Session lives at most 24
 * hours, so 23 leaves room for the clocks to disagree.
 */
export const LINK_LIFETIME_MS: Record<PaymentProvider, number> = {
  razorpay: 7 * 24 * 60 * 60 * 1000,
  stripe: 23 * 60 * 60 * 1000,
};

/**
 * An open link is handed out again only if it stays payable this long: a
 * guardian sent a link that dies in minutes could not use it.
 */
export const LINK_REUSE_MARGIN_MS = 60 * 60 * 1000;

/**
 * Where a provider sends the payer after paying: a thank-you page the api
 * serves (`GET /api/pay/return`). The guardian pages (a later issue) can grow
 * from it; the invoice id rides along for them and is not shown.
 */
export function returnUrl(config: PaymentsConfig, invoiceId: string): string {
  return `${config.PUBLIC_URL.replace(/\/$/, '')}/api/pay/return?invoice=${encodeURIComponent(invoiceId)}`;
}

/** The smallest amount a Razorpay Payment Link takes (₹1.00 in paise); a smaller balance is refused up front. */
export const RAZORPAY_MINIMUM_MINOR = 100n;

/** A `payment_links` row → API shape. */
export function toPaymentLink(row: PaymentLinkRow): PaymentLink {
  return {
    id: row.id,
    invoiceId: row.invoiceId,
    provider: row.provider as PaymentProvider,
    providerReference: row.providerReference,
    url: row.url,
    amountMinor: toNumber(row.amountMinor),
    currency: row.currency,
    status: row.status as PaymentLink['status'],
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
  };
}

/** Asks the provider for a link through its REST API (the sandbox's or the live one, per the config). */
function createAtProvider(
  config: PaymentsConfig,
  provider: PaymentProvider,
  linkId: string,
  input: CreateLinkInput,
): Promise<CreatedLink> {
  const bases = providerApiBases(config);
  if (provider === 'razorpay') {
    return createRazorpayPaymentLink(
      { baseUrl: bases.razorpay, keyId: config.RAZORPAY_KEY_ID, keySecret: config.RAZORPAY_KEY_SECRET },
      { ...input, referenceId: linkId },
    );
  }
  return createStripeCheckoutSession({ baseUrl: bases.stripe, secretKey: config.STRIPE_SECRET_KEY }, input);
}

/**
 * A pay link for what is left to pay on an invoice. While an open link for
 * the same invoice, provider and amount is still good for a while, that link
 * is returned as it is (no second provider call, no audit row); otherwise
 * the provider creates one, with the invoice, school and invoice number in
 * its notes/metadata, and it is stored and audited. Requests for one invoice
 * are serialised (the check, the provider call and the insert in one
 * transaction under a per-invoice lock), so a burst makes one link. A paid
 * or void invoice is a 409; another school's a 404; a provider failure a 503
 * with nothing stored.
 */
export async function createPaymentLink(
  { db, config, logger }: { db: Kysely<DB>; config: PaymentsConfig; logger: Logger },
  actor: Actor | SystemActor,
  scope: string | null,
  invoiceId: string,
  provider: PaymentProvider,
): Promise<{ link: PaymentLink; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    await lockInvoiceLinks(trx, invoiceId);
    const invoice = await findInvoice(trx, scope, invoiceId);
    if (invoice.status === 'void') {
      throw new AppError('conflict', `Invoice ${invoice.number} is void; there is nothing to pay`);
    }
    if (invoice.balanceMinor <= 0) {
      throw new AppError('conflict', `Invoice ${invoice.number} is paid; there is nothing left to pay`);
    }
    const amountMinor = BigInt(invoice.balanceMinor);
    if (provider === 'razorpay' && amountMinor < RAZORPAY_MINIMUM_MINOR) {
      throw fieldError(
        'body.provider',
        `Razorpay takes at least ${RAZORPAY_MINIMUM_MINOR} minor units; this balance is ${amountMinor}`,
      );
    }
    const now = new Date();
    await expireLinks(trx, invoiceId, now);
    const open = await findOpenLink(trx, {
      invoiceId,
      provider,
      amountMinor,
      usableUntil: new Date(now.getTime() + LINK_REUSE_MARGIN_MS),
    });
    if (open) return { link: toPaymentLink(open), created: false };

    const id = randomUUID();
    const schoolName = await findSchoolName(trx, invoice.schoolId);
    // Whole seconds: both providers count expiry in unix seconds.
    const expiresAt = new Date(Math.floor((now.getTime() + LINK_LIFETIME_MS[provider]) / 1000) * 1000);
    const created = await createAtProvider(config, provider, id, {
      amountMinor,
      currency: invoice.currency,
      description: `Invoice ${invoice.number}, ${schoolName}`,
      notes: { invoiceId, schoolId: invoice.schoolId, invoiceNumber: invoice.number },
      returnUrl: returnUrl(config, invoiceId),
      expiresAt,
    }).catch((error: unknown) => {
      // The client sees only "try again"; the operator needs the provider's status and words
      // (the internal message, which never holds a credential), and AppErrors are not logged
      // by the error handler.
      if (error instanceof AppError) {
        logger.warn({ provider, invoiceId, reason: error.message }, 'payment provider did not create a link');
      }
      throw error;
    });
    const row = await insertLink(trx, {
      id,
      schoolId: invoice.schoolId,
      invoiceId,
      provider,
      providerReference: created.providerReference,
      url: created.url,
      amountMinor,
      currency: invoice.currency,
      expiresAt: created.expiresAt,
      createdBy: 'caller' in actor ? actor.caller.userId : null,
    }).catch((error: unknown) => {
      if (isUniqueViolation(error, 'payment_links_provider_provider_reference_key')) {
        throw new AppError(
          'service_unavailable',
          'The provider answered with a link Bursar already has; try again',
          {
            internal: `${provider} returned the existing reference ${created.providerReference}`,
            cause: error,
          },
        );
      }
      throw error;
    });
    const link = toPaymentLink(row);
    await recordAudit(trx, actor, {
      action: 'payment_link.create',
      entityType: 'payment_link',
      entityId: link.id,
      schoolId: invoice.schoolId,
      after: link,
    });
    return { link, created: true };
  });
}
