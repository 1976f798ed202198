import { UnrecoverableError } from 'bullmq';
import { sql, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import { JOBS } from '@bursar/contracts';
import { enqueue, transactionWithOutbox } from '@bursar/platform';
import {
  furthestStatus,
  parseGupshupWebhook,
  parseMetaWebhook,
  type InboundEvent,
  type StatusEvent,
  type TemplateEvent,
  type WhatsAppEvent,
} from '@bursar/whatsapp';
import type { WhatsAppContext } from './context.js';
import { completeCampaignIfDone } from './messages.repository.js';

const STOP_WORDS = ['stop', 'unsubscribe'];
const START_WORDS = ['start'];

/** What the guardian is told when an opt-out or opt-in takes effect (inside the window their message opened). */
export const OPT_OUT_REPLY =
  'You will no longer receive messages from your school on WhatsApp. Reply START to receive them again.';
export const OPT_IN_REPLY =
  'You will receive messages from your school on WhatsApp again. Reply STOP to stop.';

/** When each status was first reported (a repeat keeps the first time). */
function stampOf(status: string, at: Date) {
  switch (status) {
    case 'sent':
      return { sentAt: sql<Date>`coalesce(sent_at, ${at})` };
    case 'delivered':
      return { deliveredAt: sql<Date>`coalesce(delivered_at, ${at})` };
    case 'read':
      return { readAt: sql<Date>`coalesce(read_at, ${at})` };
    case 'failed':
      return { failedAt: sql<Date>`coalesce(failed_at, ${at})` };
    default:
      return {};
  }
}

type Stored = 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

/**
 * A status moves a message forward only (`furthestStatus`): a late
 * `delivered` never downgrades `read`, `read` may come without `delivered`,
 * `failed` keeps its code and title. Found by the provider's id, or by
 * Bursar's own id echoed back, which also settles a message whose sender died
 * before it could record the provider's id.
 */
async function applyStatus(
  trx: Transaction<DB>,
  provider: string,
  event: StatusEvent,
): Promise<{ campaignId: string | null } | undefined> {
  const message = await trx
    .selectFrom('whatsappMessages')
    .select(['id', 'status', 'providerMessageId', 'campaignId'])
    .where((eb) =>
      eb.or([
        eb.and([eb('provider', '=', provider), eb('providerMessageId', '=', event.providerMessageId)]),
        ...(event.clientReference && /^[0-9a-f-]{36}$/.test(event.clientReference)
          ? [eb('id', '=', event.clientReference)]
          : []),
      ]),
    )
    .forUpdate()
    .executeTakeFirst();
  if (!message) return undefined;
  const current = message.status as Stored | 'excluded' | 'cancelled';
  if (current === 'excluded' || current === 'cancelled') return { campaignId: message.campaignId };
  const known = current === 'sending' || current === 'queued' ? null : current;
  const next = furthestStatus(known, event.status);
  await trx
    .updateTable('whatsappMessages')
    .set({
      status: next,
      provider,
      providerMessageId: message.providerMessageId ?? event.providerMessageId,
      ...stampOf(event.status, event.at),
      ...(event.status === 'failed' && next === 'failed'
        ? {
            errorCode: event.errorCode ?? null,
            errorTitle: event.errorTitle ?? null,
            reason: 'provider_failed',
          }
        : {}),
      ...(next !== 'failed' && current === 'sending'
        ? { sentAt: sql<Date>`coalesce(sent_at, ${event.at})` }
        : {}),
    })
    .where('id', '=', message.id)
    .execute();
  return { campaignId: message.campaignId };
}

/** The school a reply to `phone` is sent for: the one that last messaged it, else one that has it as a guardian. */
async function schoolFor(trx: Transaction<DB>, phone: string): Promise<string | undefined> {
  const last = await trx
    .selectFrom('whatsappMessages')
    .select('schoolId')
    .where('phone', '=', phone)
    .orderBy('createdAt', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (last) return last.schoolId;
  const guardian = await trx
    .selectFrom('guardians')
    .select('schoolId')
    .where('phone', '=', phone)
    .orderBy('createdAt')
    .limit(1)
    .executeTakeFirst();
  return guardian?.schoolId;
}

/**
 * STOP / UNSUBSCRIBE, or a local word a school sending from this number set
 * (`बंद`), opts the sender out at once; START (or a local opt-in word) opts
 * back in. Either is acknowledged with a short free-text reply, which the
 * guardian's message has just made allowed.
 */
async function applyInbound(
  trx: Transaction<DB>,
  businessNumber: string,
  event: InboundEvent,
): Promise<'opted_out' | 'opted_in' | 'ignored'> {
  const word = event.text.trim().toLocaleLowerCase();
  if (!word) return 'ignored';
  const localWords = await sql<{ kind: string }>`
    select case when ${word} = any(opt_out_keywords) then 'out' else 'in' end as kind
    from schools where ${word} = any(opt_out_keywords) or ${word} = any(opt_in_keywords) limit 1
  `.execute(trx);
  const local = localWords.rows[0]?.kind;
  const choice =
    STOP_WORDS.includes(word) || local === 'out'
      ? 'opted_out'
      : START_WORDS.includes(word) || local === 'in'
        ? 'opted_in'
        : 'ignored';
  if (choice === 'ignored') return choice;
  await trx
    .insertInto('whatsappOptOuts')
    .values({
      businessNumber,
      phone: event.from,
      optedOut: choice === 'opted_out',
      keyword: word,
      changedAt: event.at,
    })
    .onConflict((conflict) =>
      conflict.columns(['businessNumber', 'phone']).doUpdateSet({
        optedOut: choice === 'opted_out',
        keyword: word,
        changedAt: event.at,
      }),
    )
    .execute();
  const schoolId = await schoolFor(trx, event.from);
  if (schoolId) {
    const reply = await trx
      .insertInto('whatsappMessages')
      .values({
        schoolId,
        purpose: 'reply',
        phone: event.from,
        text: choice === 'opted_out' ? OPT_OUT_REPLY : OPT_IN_REPLY,
        dedupeKey: `reply:${event.providerMessageId}`,
      })
      .onConflict((conflict) => conflict.column('dedupeKey').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (reply) await enqueue(trx, JOBS['whatsapp.send'], { messageId: reply.id });
  }
  return choice;
}

/**
 * The provider's review, in Bursar's template statuses: only `approved` ones
 * are sent; a flagged, disabled or deleted template stops like a paused one
 * (with the provider's word kept as the reason), and a pending one is
 * `submitted`.
 */
const TEMPLATE_STATUS: Record<TemplateEvent['status'], 'approved' | 'submitted' | 'rejected' | 'paused'> = {
  approved: 'approved',
  pending: 'submitted',
  rejected: 'rejected',
  paused: 'paused',
  disabled: 'paused',
  flagged: 'paused',
  deleted: 'paused',
};

async function applyTemplate(trx: Transaction<DB>, event: TemplateEvent): Promise<void> {
  const status = TEMPLATE_STATUS[event.status];
  const reason = event.reason ?? (status === 'paused' && event.status !== 'paused' ? event.status : null);
  await trx
    .updateTable('whatsappTemplates')
    .set({ status, statusReason: reason, updatedAt: sql<Date>`now()` })
    .where('providerTemplateId', '=', event.providerTemplateId)
    .execute();
}

/**
 * `whatsapp-event.apply`: one stored webhook, applied once (the row is locked
 * and moved out of `received` in the same transaction as its effects). A body
 * that cannot be read is kept as `unreadable`, with why.
 */
export async function processWhatsAppEvent(
  { eventId }: { eventId: string },
  { db, outbox, whatsapp }: WhatsAppContext,
): Promise<{ status: string; applied?: number }> {
  return transactionWithOutbox(db, outbox, async (trx) => {
    const stored = await trx
      .selectFrom('whatsappEvents')
      .select(['id', 'provider', 'body', 'status'])
      .where('id', '=', eventId)
      .forUpdate()
      .executeTakeFirst();
    if (!stored) throw new UnrecoverableError(`WhatsApp event ${eventId} does not exist`);
    if (stored.status !== 'received') return { status: stored.status };
    let events: WhatsAppEvent[];
    try {
      events = stored.provider === 'meta' ? parseMetaWebhook(stored.body) : parseGupshupWebhook(stored.body);
    } catch (error) {
      await trx
        .updateTable('whatsappEvents')
        .set({
          status: 'unreadable',
          detail: String((error as Error).message).slice(0, 500),
          processedAt: sql<Date>`now()`,
        })
        .where('id', '=', eventId)
        .execute();
      return { status: 'unreadable' };
    }
    let applied = 0;
    const campaigns = new Set<string>();
    for (const event of events) {
      if (event.kind === 'status') {
        const found = await applyStatus(trx, stored.provider, event);
        if (found) applied += 1;
        if (found?.campaignId) campaigns.add(found.campaignId);
      } else if (event.kind === 'inbound')
        applied += (await applyInbound(trx, whatsapp.businessNumber, event)) === 'ignored' ? 0 : 1;
      else {
        await applyTemplate(trx, event);
        applied += 1;
      }
    }
    // A message settled here (its sender died before recording the outcome) may be its campaign's last.
    for (const campaignId of campaigns) await completeCampaignIfDone(trx, campaignId);
    await trx
      .updateTable('whatsappEvents')
      .set({ status: 'processed', processedAt: sql<Date>`now()` })
      .where('id', '=', eventId)
      .execute();
    return { status: 'processed', applied };
  });
}
