import {
  AppError,
  MAX_AMOUNT_MINOR,
  type ProviderEventStatus,
  type ReconciliationReason,
} from '@bursar/contracts';
import type { ProviderFact, ProviderPayment, ProviderRefund } from '@bursar/payments';
import { sql } from 'kysely';
import type { Db, Trx } from './db.js';
import { applyPayment, findProviderPayment, refundPayment } from './payments.js';

/** The `provider_events` row being applied (the worker holds it locked). */
export interface ProviderEventRef {
  id: string;
  provider: string;
  receivedAt: Date;
}

/** One change to write to the audit trail, in the same transaction (the caller writes it with its actor). */
export interface ProviderAuditEntry {
  action: string;
  entityType: string;
  entityId: string;
  schoolId: string | null;
  after: unknown;
}

/** What became of a provider event: what was written on its row, plus what to audit and to warn about. */
export interface ProviderEventOutcome {
  status: Exclude<ProviderEventStatus, 'received'>;
  detail: string | null;
  schoolId: string | null;
  invoiceId: string | null;
  paymentId: string | null;
  providerPaymentId: string | null;
  audit: ProviderAuditEntry[];
  /** Things an operator should see in the log (a refund that could not be recorded in the ledger). */
  warnings: string[];
}

/**
 * A refund arrived before the payment it refunds: retrying later (the job's
 * backoff) lets the capture arrive first. Never an AppError: nothing is wrong.
 */
export class PaymentNotYetApplied extends Error {
  constructor(
    readonly provider: string,
    readonly providerPaymentId: string,
  ) {
    super(`${provider} payment ${providerPaymentId} is not in the ledger yet; the refund waits for it`);
    this.name = 'PaymentNotYetApplied';
  }
}

type FactOutcome = Omit<ProviderEventOutcome, 'audit' | 'warnings'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_AMOUNT = BigInt(MAX_AMOUNT_MINOR);

// When one event carries several facts (a Stripe charge with several refunds), the event
// shows the most consequential thing that happened to it.
const PRECEDENCE: ProviderEventOutcome['status'][] = [
  'applied',
  'refunded',
  'reconciliation',
  'recorded',
  'duplicate',
  'ignored',
];

/**
 * Serialises everything done about one provider payment (its events, a match
 * from reconciliation), so two events of one payment cannot both decide it is
 * new — also when neither reaches an invoice lock (both unmatched). Taken before
 * any student or invoice lock, always, so it cannot deadlock with them.
 */
export async function lockProviderPayment(
  trx: Trx,
  provider: string,
  providerPaymentId: string,
): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`provider-payment:${provider}:${providerPaymentId}`}, 0))`.execute(
    trx,
  );
}

/**
 * Applies what one provider event says (its facts, as the payments package
 * parsed them) and records on its `provider_events` row what became of it, all
 * in the caller's transaction (which holds the row locked). A payment lands on
 * the invoice its notes name (and whose school they name), else on the invoice
 * of the stored pay link; anything that cannot be placed safely goes to the
 * reconciliation inbox, never to the ledger. A payment already applied, from
 * this event or another, is a duplicate. A refund whose payment is not in the
 * ledger yet throws {@link PaymentNotYetApplied} so the job retries.
 */
export async function applyProviderFacts(
  trx: Trx,
  input: { event: ProviderEventRef; facts: ProviderFact[] },
): Promise<ProviderEventOutcome> {
  const audit: ProviderAuditEntry[] = [];
  const warnings: string[] = [];
  const outcomes: FactOutcome[] = [];
  for (const fact of input.facts) {
    switch (fact.kind) {
      case 'payment':
        outcomes.push(await applyPaymentFact(trx, input.event, fact, audit));
        break;
      case 'refund':
        outcomes.push(await applyRefundFact(trx, fact, audit, warnings));
        break;
      case 'failed':
        outcomes.push({
          ...blank('recorded', `payment failed: ${fact.reason}`),
          providerPaymentId: fact.providerPaymentId,
        });
        break;
      case 'ignored':
        outcomes.push(blank('ignored', `${fact.type} is not an event Bursar acts on`));
        break;
    }
  }
  const outcome = combine(outcomes);
  await trx
    .updateTable('providerEvents')
    .set({
      status: outcome.status,
      processedAt: new Date(),
      detail: outcome.detail,
      schoolId: outcome.schoolId,
      invoiceId: outcome.invoiceId,
      paymentId: outcome.paymentId,
      providerPaymentId: outcome.providerPaymentId,
    })
    .where('id', '=', input.event.id)
    .execute();
  return { ...outcome, audit, warnings };
}

function blank(status: FactOutcome['status'], detail: string | null): FactOutcome {
  return { status, detail, schoolId: null, invoiceId: null, paymentId: null, providerPaymentId: null };
}

function combine(outcomes: FactOutcome[]): FactOutcome {
  if (outcomes.length === 0) return blank('ignored', 'the event reports nothing Bursar acts on');
  const status = PRECEDENCE.find((candidate) => outcomes.some((outcome) => outcome.status === candidate))!;
  const first = <K extends 'schoolId' | 'invoiceId' | 'paymentId' | 'providerPaymentId'>(key: K) =>
    outcomes.find((outcome) => outcome.status === status && outcome[key])?.[key] ??
    outcomes.find((outcome) => outcome[key])?.[key] ??
    null;
  const details = outcomes.map((outcome) => outcome.detail).filter((detail): detail is string => !!detail);
  return {
    status,
    detail: details.length ? details.join('; ') : null,
    schoolId: first('schoolId'),
    invoiceId: first('invoiceId'),
    paymentId: first('paymentId'),
    providerPaymentId: first('providerPaymentId'),
  };
}

async function schoolExists(db: Db, schoolId: string | undefined): Promise<string | null> {
  if (!schoolId || !UUID.test(schoolId)) return null;
  const row = await db.selectFrom('schools').select('id').where('id', '=', schoolId).executeTakeFirst();
  return row?.id ?? null;
}

type Placement =
  | { ok: true; invoice: { id: string; schoolId: string; currency: string; number: string } }
  | {
      ok: false;
      reason: ReconciliationReason;
      detail: string;
      schoolId: string | null;
      invoiceId: string | null;
    };

/** Which invoice a payment belongs to, or why Bursar cannot say safely. */
async function placePayment(trx: Trx, fact: ProviderPayment): Promise<Placement> {
  const { notes } = fact;
  const link = fact.providerReference
    ? await trx
        .selectFrom('paymentLinks')
        .select(['invoiceId', 'schoolId'])
        .where('provider', '=', fact.provider)
        .where('providerReference', '=', fact.providerReference)
        .executeTakeFirst()
    : undefined;
  let invoiceId: string;
  if (notes.invoiceId) {
    if (!UUID.test(notes.invoiceId)) {
      return {
        ok: false,
        reason: 'unknown_invoice',
        detail: `the notes name invoice "${notes.invoiceId.slice(0, 80)}", which is not a Bursar invoice id`,
        schoolId: await schoolExists(trx, notes.schoolId),
        invoiceId: null,
      };
    }
    invoiceId = notes.invoiceId;
  } else if (link) {
    invoiceId = link.invoiceId;
  } else {
    return {
      ok: false,
      reason: 'no_reference',
      detail: fact.providerReference
        ? `no invoice id in the notes, and ${fact.providerReference} is not a link Bursar created`
        : 'no invoice id in the notes and no pay link to match it by',
      schoolId: await schoolExists(trx, notes.schoolId),
      invoiceId: null,
    };
  }
  const invoice = await trx
    .selectFrom('invoices')
    .select(['id', 'schoolId', 'currency', 'number', 'voidedAt'])
    .where('id', '=', invoiceId)
    .executeTakeFirst();
  if (!invoice) {
    return {
      ok: false,
      reason: 'unknown_invoice',
      detail: `the notes name invoice ${invoiceId}, which Bursar does not have`,
      schoolId: await schoolExists(trx, notes.schoolId),
      invoiceId: null,
    };
  }
  // The school must be confirmed by the notes, or by Bursar's own link when notes carry no school.
  const confirmedSchool = notes.schoolId ?? (link?.invoiceId === invoice.id ? link.schoolId : undefined);
  if (confirmedSchool !== invoice.schoolId) {
    return {
      ok: false,
      reason: 'school_mismatch',
      detail: notes.schoolId
        ? `invoice ${invoice.number} belongs to another school than the notes say (${notes.schoolId.slice(0, 80)})`
        : `the notes name invoice ${invoice.number} but no school`,
      // Two sources disagree about whose money this is: only a platform admin decides.
      schoolId: null,
      invoiceId: invoice.id,
    };
  }
  if (fact.currency !== invoice.currency) {
    return {
      ok: false,
      reason: 'currency_mismatch',
      detail: `paid in ${fact.currency}; invoice ${invoice.number} is in ${invoice.currency}`,
      schoolId: invoice.schoolId,
      invoiceId: invoice.id,
    };
  }
  if (fact.amountMinor <= 0n || fact.amountMinor > MAX_AMOUNT) {
    return {
      ok: false,
      reason: 'amount_out_of_range',
      detail: `${fact.amountMinor} minor units is not an amount Bursar can apply (1 to ${MAX_AMOUNT})`,
      schoolId: invoice.schoolId,
      invoiceId: invoice.id,
    };
  }
  if (invoice.voidedAt) {
    return {
      ok: false,
      reason: 'invoice_void',
      detail: `invoice ${invoice.number} was voided before the money arrived`,
      schoolId: invoice.schoolId,
      invoiceId: invoice.id,
    };
  }
  return { ok: true, invoice };
}

async function applyPaymentFact(
  trx: Trx,
  event: ProviderEventRef,
  fact: ProviderPayment,
  audit: ProviderAuditEntry[],
): Promise<FactOutcome> {
  await lockProviderPayment(trx, fact.provider, fact.providerPaymentId);
  const existing = await findProviderPayment(trx, fact.provider, fact.providerPaymentId);
  if (existing) {
    if (fact.providerReference) await markLinkPaid(trx, fact.provider, fact.providerReference, fact.paidAt);
    await closeOpenItems(trx, {
      provider: fact.provider,
      providerPaymentId: fact.providerPaymentId,
      paymentId: existing.id,
      invoiceId: existing.invoiceId,
      audit,
      except: undefined,
    });
    return {
      status: 'duplicate',
      detail: `payment ${fact.providerPaymentId} was already applied`,
      schoolId: existing.schoolId,
      invoiceId: existing.invoiceId,
      paymentId: existing.id,
      providerPaymentId: fact.providerPaymentId,
    };
  }
  const placement = await placePayment(trx, fact);
  if (!placement.ok) {
    const item = await trx
      .insertInto('reconciliationItems')
      .values({
        schoolId: placement.schoolId,
        eventId: event.id,
        provider: fact.provider,
        providerPaymentId: fact.providerPaymentId,
        amountMinor: fact.amountMinor,
        currency: fact.currency.slice(0, 3).padEnd(3, '?'),
        reason: placement.reason,
        detail: placement.detail,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    audit.push({
      action: 'reconciliation.create',
      entityType: 'reconciliation_item',
      entityId: item.id,
      schoolId: placement.schoolId,
      after: {
        reason: placement.reason,
        detail: placement.detail,
        provider: fact.provider,
        providerPaymentId: fact.providerPaymentId,
        amountMinor: fact.amountMinor,
        currency: fact.currency,
      },
    });
    return {
      status: 'reconciliation',
      detail: `${placement.reason}: ${placement.detail}`,
      schoolId: placement.schoolId,
      invoiceId: placement.invoiceId,
      paymentId: null,
      providerPaymentId: fact.providerPaymentId,
    };
  }
  const applied = await applyOnlinePayment(trx, {
    schoolId: placement.invoice.schoolId,
    invoiceId: placement.invoice.id,
    provider: fact.provider,
    providerPaymentId: fact.providerPaymentId,
    amountMinor: fact.amountMinor,
    paidAt: fact.paidAt,
    providerReference: fact.providerReference,
    createdBy: null,
    audit,
  });
  return {
    status: applied.duplicate ? 'duplicate' : 'applied',
    detail: applied.duplicate ? `payment ${fact.providerPaymentId} was already applied` : null,
    schoolId: placement.invoice.schoolId,
    invoiceId: placement.invoice.id,
    paymentId: applied.paymentId,
    providerPaymentId: fact.providerPaymentId,
  };
}

/**
 * The one way provider money enters the ledger, automatically or matched by a
 * person: the payment (unique per provider id), its link marked paid, and any
 * other event of the same payment still waiting in reconciliation closed as
 * matched to it. The caller holds the provider payment's lock.
 */
export async function applyOnlinePayment(
  trx: Trx,
  input: {
    schoolId: string;
    invoiceId: string;
    provider: string;
    providerPaymentId: string;
    amountMinor: bigint;
    paidAt: Date;
    providerReference: string | undefined;
    createdBy: string | null;
    audit: ProviderAuditEntry[];
    /** The reconciliation item a person is matching: the caller closes it, with who and when. */
    matchingItemId?: string;
  },
): Promise<{ paymentId: string; duplicate: boolean; appliedMinor: bigint; creditedMinor: bigint }> {
  const result = await applyPayment(trx, {
    schoolId: input.schoolId,
    invoiceId: input.invoiceId,
    amountMinor: input.amountMinor,
    method: 'online',
    reference: input.providerPaymentId,
    paidAt: input.paidAt,
    createdBy: input.createdBy,
    provider: input.provider,
    providerPaymentId: input.providerPaymentId,
  });
  if (!result.duplicate) {
    input.audit.push({
      action: 'payment.create',
      entityType: 'payment',
      entityId: result.paymentId,
      schoolId: input.schoolId,
      after: {
        invoiceId: input.invoiceId,
        amountMinor: input.amountMinor,
        method: 'online',
        provider: input.provider,
        providerPaymentId: input.providerPaymentId,
        appliedMinor: result.appliedMinor,
        creditedMinor: result.creditedMinor,
      },
    });
  }
  if (input.providerReference) await markLinkPaid(trx, input.provider, input.providerReference, input.paidAt);
  await closeOpenItems(trx, {
    provider: input.provider,
    providerPaymentId: input.providerPaymentId,
    paymentId: result.paymentId,
    invoiceId: input.invoiceId,
    audit: input.audit,
    except: input.matchingItemId,
  });
  return result;
}

async function markLinkPaid(trx: Trx, provider: string, providerReference: string, paidAt: Date) {
  await trx
    .updateTable('paymentLinks')
    .set({ status: 'paid', paidAt })
    .where('provider', '=', provider)
    .where('providerReference', '=', providerReference)
    .where('status', '<>', 'paid')
    .execute();
}

/**
 * An earlier event of this payment that went to reconciliation (say the capture
 * had no notes and the link event did) is resolved by the payment now in the
 * ledger: its item closes as matched and its event becomes a duplicate.
 */
async function closeOpenItems(
  trx: Trx,
  input: {
    provider: string;
    providerPaymentId: string;
    paymentId: string;
    invoiceId: string;
    audit: ProviderAuditEntry[];
    except: string | undefined;
  },
) {
  const { provider, providerPaymentId, paymentId, invoiceId, audit } = input;
  const closed = await trx
    .updateTable('reconciliationItems')
    .set({ status: 'matched', paymentId, matchedInvoiceId: invoiceId, resolvedAt: new Date() })
    .where('provider', '=', provider)
    .where('providerPaymentId', '=', providerPaymentId)
    .where('status', '=', 'open')
    .$if(input.except !== undefined, (query) => query.where('id', '<>', input.except!))
    .returning(['id', 'eventId', 'schoolId'])
    .execute();
  for (const item of closed) {
    await trx
      .updateTable('providerEvents')
      .set({
        status: 'duplicate',
        paymentId,
        detail: `payment ${providerPaymentId} was applied from another event`,
      })
      .where('id', '=', item.eventId)
      .execute();
    audit.push({
      action: 'reconciliation.match',
      entityType: 'reconciliation_item',
      entityId: item.id,
      schoolId: item.schoolId,
      after: { status: 'matched', paymentId, invoiceId, automatic: true },
    });
  }
}

async function applyRefundFact(
  trx: Trx,
  fact: ProviderRefund,
  audit: ProviderAuditEntry[],
  warnings: string[],
): Promise<FactOutcome> {
  await lockProviderPayment(trx, fact.provider, fact.providerPaymentId);
  const payment = await findProviderPayment(trx, fact.provider, fact.providerPaymentId);
  const base = {
    providerPaymentId: fact.providerPaymentId,
    invoiceId: null,
    schoolId: null,
    paymentId: null,
  };
  if (!payment) {
    const dismissed = await trx
      .selectFrom('reconciliationItems')
      .select('id')
      .where('provider', '=', fact.provider)
      .where('providerPaymentId', '=', fact.providerPaymentId)
      .where('status', '=', 'dismissed')
      .executeTakeFirst();
    if (dismissed) {
      return {
        ...base,
        status: 'recorded',
        detail: `refund ${fact.providerRefundId} of a payment dismissed in reconciliation (${dismissed.id})`,
      };
    }
    throw new PaymentNotYetApplied(fact.provider, fact.providerPaymentId);
  }
  const ids = {
    providerPaymentId: fact.providerPaymentId,
    invoiceId: payment.invoiceId,
    schoolId: payment.schoolId,
    paymentId: payment.id,
  };
  const refusal =
    fact.currency !== payment.currency
      ? `refunded in ${fact.currency}, but the payment is in ${payment.currency}`
      : fact.amountMinor <= 0n
        ? `a refund of ${fact.amountMinor} minor units is not a refund`
        : null;
  if (refusal) {
    warnings.push(`refund ${fact.providerRefundId} not recorded in the ledger: ${refusal}`);
    return { ...ids, status: 'recorded', detail: refusal };
  }
  try {
    const refund = await refundPayment(trx, {
      schoolId: payment.schoolId,
      paymentId: payment.id,
      amountMinor: fact.amountMinor,
      reason: `Refunded through ${fact.provider} (${fact.providerRefundId})`,
      createdBy: null,
      provider: fact.provider,
      providerRefundId: fact.providerRefundId,
    });
    if (refund.duplicate) {
      return { ...ids, status: 'duplicate', detail: `refund ${fact.providerRefundId} was already recorded` };
    }
    audit.push({
      action: 'refund.create',
      entityType: 'refund',
      entityId: refund.refundId,
      schoolId: payment.schoolId,
      after: {
        paymentId: payment.id,
        amountMinor: fact.amountMinor,
        fromCreditMinor: refund.fromCreditMinor,
        provider: fact.provider,
        providerRefundId: fact.providerRefundId,
      },
    });
    return { ...ids, status: 'refunded', detail: null };
  } catch (error) {
    // More than is left to refund: the provider's money moved anyway, so a person must look,
    // but the reconciliation inbox holds money to place, not money gone. Thrown before any write.
    if (error instanceof AppError && error.code === 'conflict') {
      warnings.push(`refund ${fact.providerRefundId} not recorded in the ledger: ${error.detail}`);
      return { ...ids, status: 'recorded', detail: error.detail };
    }
    throw error;
  }
}
