import { UnrecoverableError } from 'bullmq';
import type { DB } from '@bursar/db';
import type { Kysely } from 'kysely';
import { applyProviderFacts, type ProviderEventOutcome } from '@bursar/ledger';
import { parseRazorpayEvent, parseStripeEvent, type ProviderFact } from '@bursar/payments';
import {
  recordAudit,
  stampTrace,
  transactionWithOutbox,
  type Logger,
  type OutboxRelay,
  type SystemActor,
} from '@bursar/platform';

/** Who the audit trail says applied provider money: this worker, not a user. */
const PAYMENTS_WORKER: SystemActor = { system: 'payments-worker' };

const PARSERS: Record<string, (body: Buffer) => ProviderFact[]> = {
  razorpay: parseRazorpayEvent,
  stripe: parseStripeEvent,
};

type Result =
  | { kind: 'skipped'; status: string }
  | { kind: 'unreadable'; reason: string }
  | { kind: 'done'; outcome: ProviderEventOutcome };

/**
 * `payment-event.apply`: applies one stored provider event exactly once. The
 * event row is read `FOR UPDATE` in the transaction that applies it, so two
 * deliveries of the job (a retry after a crash, a Redis restart) run one after
 * the other, and the second finds the row no longer `received` and does
 * nothing. Everything the event causes — the payment or refund through the
 * ledger, a reconciliation item, the row's new status, the audit rows — commits
 * together or not at all. A row that is gone or a body that can never be read
 * fails unrecoverably; anything else (a refund whose capture has not arrived,
 * a lost connection) retries with the job's backoff. (Typed on what it uses, so
 * this module does not import the processor table that imports it.)
 */
export async function processPaymentEvent(
  { eventId }: { eventId: string },
  { db, logger, outbox }: { db: Kysely<DB>; logger: Logger; outbox: Pick<OutboxRelay, 'kick'> },
): Promise<{ status: string; paymentId?: string | null; skipped?: boolean }> {
  const result = await transactionWithOutbox(db, outbox, async (trx): Promise<Result> => {
    // The receipt and invoice renders the ledger's writes ask for (by trigger) join this job's trace.
    await stampTrace(trx);
    const event = await trx
      .selectFrom('providerEvents')
      .select(['id', 'provider', 'eventId', 'eventType', 'status', 'body', 'receivedAt'])
      .where('id', '=', eventId)
      .forUpdate()
      .executeTakeFirst();
    if (!event) throw new UnrecoverableError(`provider event ${eventId} does not exist`);
    if (event.status !== 'received') return { kind: 'skipped', status: event.status };
    const parse = PARSERS[event.provider];
    let facts: ProviderFact[];
    try {
      if (!parse) throw new Error(`no parser for provider ${event.provider}`);
      facts = parse(event.body);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // Kept, with why, so an operator can see it; retrying cannot make the body readable.
      await trx
        .updateTable('providerEvents')
        .set({ status: 'recorded', processedAt: new Date(), detail: `unreadable: ${reason}`.slice(0, 2000) })
        .where('id', '=', event.id)
        .execute();
      return { kind: 'unreadable', reason };
    }
    const outcome = await applyProviderFacts(trx, {
      event: { id: event.id, provider: event.provider, receivedAt: new Date(event.receivedAt) },
      facts,
    });
    for (const entry of outcome.audit) await recordAudit(trx, PAYMENTS_WORKER, entry);
    // The invoice PDF and the receipt PDF are asked for by the database triggers on invoices and payments
    // (migrations 0007, 0009), in this transaction; the receipt's WhatsApp message follows its first PDF.
    return { kind: 'done', outcome };
  });

  const log = logger.child({ providerEventId: eventId });
  if (result.kind === 'unreadable') {
    log.warn({ reason: result.reason }, 'provider event cannot be read; recorded, not applied');
    throw new UnrecoverableError(`provider event ${eventId} cannot be read: ${result.reason}`);
  }
  if (result.kind === 'skipped') {
    log.debug({ status: result.status }, 'provider event already processed');
    return { status: result.status, skipped: true };
  }
  const { outcome } = result;
  for (const warning of outcome.warnings) log.warn({ paymentId: outcome.paymentId }, warning);
  log.info(
    { status: outcome.status, paymentId: outcome.paymentId, invoiceId: outcome.invoiceId },
    'provider event processed',
  );
  return { status: outcome.status, paymentId: outcome.paymentId };
}
