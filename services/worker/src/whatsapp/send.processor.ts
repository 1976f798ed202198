import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { sql, type Kysely } from 'kysely';
import { preparedStatement, type DB } from '@bursar/db';
import { maskPhone, type SendOutcome } from '@bursar/whatsapp';
import type { WhatsAppContext } from './context.js';
import { quietHoursRemainingMs, quietHoursSql } from './quiet-hours.js';
import { campaignHas, completeCampaignIfDone, unappliedWebhookNames } from './messages.repository.js';

/**
 * How long a stored webhook naming a message may sit unapplied and still hold
 * back its send (at least the reconcile window): BullMQ hands a dead worker's
 * jobs back within a minute or two, so one unapplied after this is stuck.
 */
const UNAPPLIED_WEBHOOK_PATIENCE_MS = 5 * 60_000;
/** How often a send held back by such a webhook looks again. */
const UNAPPLIED_WEBHOOK_RECHECK_MS = 5_000;

/** Purposes the law and Meta's policy let through an opt-out: the guardian's own receipts, and the STOP/START replies. */
const OPT_OUT_EXEMPT = new Set(['receipt', 'reply']);

/** Everything a send decides on, of one message: the message, its recipient's opt-out, campaign, template, school and invoice. */
function sendFacts(db: Kysely<DB>, messageId: string, businessNumber: string) {
  return (
    db
      .selectFrom('whatsappMessages as m')
      .innerJoin('schools as s', 's.id', 'm.schoolId')
      // The recipient's opt-out comes with the message: one statement fewer on every send.
      .leftJoin('whatsappOptOuts as oo', (join) =>
        join.onRef('oo.phone', '=', 'm.phone').on('oo.businessNumber', '=', businessNumber),
      )
      .leftJoin('whatsappCampaigns as c', 'c.id', 'm.campaignId')
      .leftJoin('whatsappTemplates as t', 't.id', 'm.templateId')
      .leftJoin('invoices as i', 'i.id', 'm.invoiceId')
      .select([
        'm.id',
        'm.purpose',
        'm.status',
        'm.phone',
        'm.params',
        'm.text',
        'm.document',
        'm.attemptedAt',
        'm.attempts',
        'm.campaignId',
        sql<boolean>`coalesce(oo.opted_out, false)`.as('optedOut'),
        'c.status as campaignStatus',
        'c.round as campaignRound',
        't.name as templateName',
        't.language as templateLanguage',
        't.status as templateStatus',
        't.providerTemplateId',
        's.timezone',
        sql<string | null>`to_char(s.quiet_hours_start, 'HH24:MI')`.as('quietStart'),
        sql<string | null>`to_char(s.quiet_hours_end, 'HH24:MI')`.as('quietEnd'),
        sql<boolean>`i.id is not null and (i.voided_at is not null or i.total_minor - i.paid_minor + i.refunded_minor <= 0)`.as(
          'invoiceSettled',
        ),
        quietHoursSql(sql.ref('s.timezone'), sql.ref('s.quietHoursStart'), sql.ref('s.quietHoursEnd')).as(
          'quietNow',
        ),
      ])
      .where('m.id', '=', messageId)
  );
}

/**
 * The message's facts, and the message claimed in the same statement when
 * nothing stands in the way of sending it now — the common case, which then
 * costs one round trip before the provider call instead of two. "Nothing in
 * the way" is every check `processSendWhatsApp` makes, written in SQL: still
 * `queued`, its campaign neither cancelled nor paused and this job of its
 * current round, not a reminder of a settled invoice, not to an opted-out
 * number (receipts and replies excepted), its template approved, and outside
 * quiet hours (replies excepted). When any of them fails nothing is claimed
 * and the facts go through the checks one by one, as before. The claim is
 * the same guarded update as the slow path's (status and attempt count as
 * read), so a concurrent claim leaves this one with no row.
 */
const claimOrLoad = preparedStatement(
  (db, param: <T>(name: 'messageId' | 'businessNumber' | 'round') => T) => {
    const messageId = param<string>('messageId');
    return db
      .with('facts', () => sendFacts(db, messageId, param('businessNumber')))
      .with('claim', (qb) =>
        qb
          .updateTable('whatsappMessages')
          .set((eb) => ({
            status: 'sending',
            attempts: eb('attempts', '+', 1),
            attemptedAt: sql<Date>`now()`,
          }))
          .where('status', '=', 'queued')
          .where('id', '=', messageId)
          // The attempt count as read, from facts that allow sending now (no row: null, no claim).
          .where((eb) =>
            eb(
              'attempts',
              '=',
              eb
                .selectFrom('facts as f')
                .select('f.attempts')
                .where('f.status', '=', 'queued')
                .where((f) =>
                  f.or([
                    f('f.campaignId', 'is', null),
                    f.and([
                      f('f.campaignStatus', 'not in', ['cancelled', 'paused']),
                      f(
                        sql<number>`${param('round')}::int`,
                        '>=',
                        f.fn.coalesce('f.campaignRound', sql.lit(0)),
                      ),
                    ]),
                  ]),
                )
                .where((f) =>
                  f.not(f.and([f('f.purpose', '=', 'reminder'), f('f.invoiceSettled', '=', true)])),
                )
                .where((f) => f.or([f('f.purpose', 'in', [...OPT_OUT_EXEMPT]), f('f.optedOut', '=', false)]))
                .where((f) => f.or([f('f.templateName', 'is', null), f('f.templateStatus', '=', 'approved')]))
                .where((f) => f.or([f('f.purpose', '=', 'reply'), f('f.quietNow', '=', false)])),
            ),
          )
          .returning('id'),
      )
      .selectFrom('facts')
      .selectAll('facts')
      .select(sql<boolean>`exists (select 1 from claim)`.as('claimed'));
  },
);

/** The message recorded sent, and whether its campaign has another message still queued (see the caller). */
const recordSent = preparedStatement(
  (db, param: <T>(name: 'messageId' | 'provider' | 'providerMessageId') => T) => {
    const messageId = param<string>('messageId');
    return sql<{ campaignId: string | null; queuedLeft: boolean }>`
      update whatsapp_messages
      set provider = ${param('provider')}, provider_message_id = ${param('providerMessageId')},
          status = case when status = 'sending' then 'sent' else status end,
          sent_at = coalesce(sent_at, now())
      where id = ${messageId}
      returning campaign_id as "campaignId",
        campaign_id is not null and ${campaignHas('queued', sql`campaign_id`, messageId)} as "queuedLeft"
    `.compile(db);
  },
);

async function settle(
  db: Kysely<DB>,
  messageId: string,
  set: {
    status: 'excluded' | 'cancelled' | 'failed' | 'queued';
    reason?: string;
    errorCode?: string;
    errorTitle?: string;
  },
): Promise<void> {
  await db
    .updateTable('whatsappMessages')
    .set({
      status: set.status,
      reason: set.reason ?? null,
      errorCode: set.errorCode ?? null,
      errorTitle: set.errorTitle ?? null,
      failedAt: set.status === 'failed' ? sql<Date>`now()` : null,
    })
    .where('id', '=', messageId)
    .where('status', 'in', ['queued', 'sending'])
    .execute();
}

async function delayUntil(job: Job, at: number): Promise<never> {
  await job.moveToDelayed(at, job.token);
  throw new DelayedError();
}

/**
 * `whatsapp.send`: sends one message at most once. The message is claimed
 * (`sending`, attempt recorded and committed) before the provider is called;
 * a job that finds its message already `sending` (a worker died in the call)
 * does not call again until `reconcileAfterMs` has passed with no status
 * webhook for it — the webhook processor matches statuses to messages by the
 * message id the provider echoes, so a message the provider took is found
 * sent. Opt-outs (receipts and replies excepted), quiet hours, a paused or
 * cancelled campaign and a reminder whose invoice is settled are checked at
 * send time. A provider over its rate pauses the whole send queue
 * (`queue.rateLimit`) and the job waits without using an attempt; a pair
 * limit delays this message only; a permanent refusal is recorded with its
 * reason and not retried; anything transient retries with backoff.
 */
export async function processSendWhatsApp(
  { messageId, round }: { messageId: string; slot?: number; round: number },
  { db, logger, whatsapp, job }: WhatsAppContext & { job: Job },
): Promise<{ status: string; reason?: string }> {
  const [row] = await claimOrLoad(db, { messageId, businessNumber: whatsapp.businessNumber, round });
  if (!row) throw new UnrecoverableError(`message ${messageId} does not exist`);
  if (!row.claimed) {
    // Something stood in the way of the one-statement claim: each check, in order.
    if (row.status !== 'queued' && row.status !== 'sending') return { status: row.status };
    if (row.campaignId) {
      // A message mid-send when its campaign was cancelled may have reached the provider: it is
      // reconciled below (its status webhook decides), never marked cancelled unseen.
      if (row.campaignStatus === 'cancelled' && row.status === 'queued') {
        await settle(db, messageId, { status: 'cancelled' });
        return { status: 'cancelled' };
      }
      if (row.status === 'queued') {
        // Paused: the resume queues the message again under a new round; an older round's job is stale.
        if (row.campaignStatus === 'paused') return { status: 'paused' };
        if (round < (row.campaignRound ?? 0)) return { status: 'stale' };
      } else if (row.campaignStatus === 'paused') {
        // Its sender died in the call and a resume queues only `queued` messages again: this job is
        // the only one left for it, so it waits out the pause instead of ending (and of sending).
        return delayUntil(job, Date.now() + whatsapp.reconcileAfterMs);
      }
    }
    if (row.purpose === 'reminder' && row.invoiceSettled) {
      await settle(db, messageId, { status: 'cancelled', reason: 'paid' });
      return { status: 'cancelled', reason: 'paid' };
    }
    if (!OPT_OUT_EXEMPT.has(row.purpose)) {
      if (row.optedOut) {
        await settle(db, messageId, { status: 'excluded', reason: 'opted_out' });
        await completeCampaignIfDone(db, row.campaignId);
        return { status: 'excluded', reason: 'opted_out' };
      }
    }
    if (row.templateName && row.templateStatus !== 'approved') {
      await settle(db, messageId, { status: 'failed', reason: 'template_not_approved' });
      await completeCampaignIfDone(db, row.campaignId);
      return { status: 'failed', reason: 'template_not_approved' };
    }
    const now = Date.now();
    if (row.purpose !== 'reply') {
      const quiet = quietHoursRemainingMs(new Date(now), row.timezone, row.quietStart, row.quietEnd);
      if (quiet > 0) return delayUntil(job, now + quiet);
    }
    if (row.status === 'sending' && row.attemptedAt) {
      const waitUntil = row.attemptedAt.getTime() + whatsapp.reconcileAfterMs;
      // Its outcome is unknown: wait for the provider's word before calling again.
      if (now < waitUntil) return delayUntil(job, waitUntil);
      // The provider's word may be here already, unread: a status webhook naming this message,
      // stored since the attempt and not applied yet. A crash that cut off the send cuts off the
      // apply jobs in flight too, and BullMQ hands both back together, so the window alone cannot
      // tell "the provider never took it" from "its webhook waits its turn": wait for that webhook.
      const patienceMs = Math.max(UNAPPLIED_WEBHOOK_PATIENCE_MS, whatsapp.reconcileAfterMs);
      if (await unappliedWebhookNames(db, messageId, row.attemptedAt, patienceMs)) {
        return delayUntil(job, now + Math.min(UNAPPLIED_WEBHOOK_RECHECK_MS, whatsapp.reconcileAfterMs));
      }
      // No word came: the provider never took it, and a cancelled campaign sends nothing more.
      if (row.campaignStatus === 'cancelled') {
        await settle(db, messageId, { status: 'cancelled' });
        return { status: 'cancelled' };
      }
      // A provider that never answers (each attempt timed out, no webhook since) is not called forever.
      if (row.attempts >= (job.opts.attempts ?? 1)) {
        await settle(db, messageId, {
          status: 'failed',
          reason: 'no_answer',
          errorTitle: `no answer from the provider and no status after ${row.attempts} attempts`,
        });
        await completeCampaignIfDone(db, row.campaignId);
        return { status: 'failed', reason: 'no_answer' };
      }
      logger.warn({ messageId }, 'no status came for an attempted message; sending it again');
    }
    // Claimed only as it was read (the attempt count is its version: a timestamp read back in
    // milliseconds would not compare equal to PostgreSQL's microseconds).
    const claimed = await db
      .updateTable('whatsappMessages')
      .set((eb) => ({ status: 'sending', attempts: eb('attempts', '+', 1), attemptedAt: sql<Date>`now()` }))
      .where('id', '=', messageId)
      .where('status', '=', row.status)
      .where('attempts', '=', row.attempts)
      .returning('id')
      .executeTakeFirst();
    if (!claimed) return { status: 'taken' };
  }

  const params = (row.params as string[]) ?? [];
  const document = row.document as { kind: 'invoice' | 'receipt'; id: string; filename: string } | null;
  let outcome: SendOutcome;
  if (row.templateName) {
    outcome = await whatsapp.provider.sendTemplate({
      to: row.phone,
      template: {
        name: row.templateName,
        language: row.templateLanguage!,
        ...(row.providerTemplateId ? { providerTemplateId: row.providerTemplateId } : {}),
      },
      bodyParams: params,
      ...(document
        ? { document: { url: whatsapp.documentUrl(document.kind, document.id), filename: document.filename } }
        : {}),
      clientReference: messageId,
    });
  } else {
    outcome = await whatsapp.provider.sendText({
      to: row.phone,
      text: row.text ?? '',
      clientReference: messageId,
    });
  }

  switch (outcome.kind) {
    case 'accepted': {
      // The message recorded sent (a status webhook may already have moved it further: it finds
      // the message by its id), and whether its campaign has messages still queued, in one statement.
      const rows = await recordSent(db, {
        messageId,
        provider: whatsapp.provider.name,
        providerMessageId: outcome.providerMessageId,
      });
      // None queued: this is one of the last messages. The completion check runs after this
      // message's own commit, as a statement of its own, so whichever of the last messages commits
      // last sees every other one settled (checked inside the statement above, two last messages
      // finishing together would each see the other in flight and leave the campaign running).
      const sent = rows[0];
      if (sent?.campaignId && !sent.queuedLeft) await completeCampaignIfDone(db, sent.campaignId);
      return { status: 'sent' };
    }
    case 'rate_limited': {
      await settle(db, messageId, { status: 'queued' });
      const waitMs = outcome.retryAfterMs ?? (outcome.scope === 'pair' ? 6_000 : 1_000);
      if (outcome.scope === 'pair') return delayUntil(job, Date.now() + waitMs);
      logger.warn(
        { scope: outcome.scope, code: outcome.code, waitMs },
        'WhatsApp provider over its rate; pausing sends',
      );
      await whatsapp.sendQueue.rateLimit(waitMs);
      throw Worker.RateLimitError();
    }
    case 'permanent':
      await settle(db, messageId, {
        status: 'failed',
        reason: outcome.reason,
        errorCode: outcome.code,
        errorTitle: outcome.title,
      });
      logger.warn(
        { messageId, to: maskPhone(row.phone), reason: outcome.reason, code: outcome.code },
        'message refused',
      );
      await completeCampaignIfDone(db, row.campaignId);
      return { status: 'failed', reason: outcome.reason };
    case 'unknown':
      // The provider may have taken it: it stays `sending`, and its status webhook decides (as after
      // a crash in the call); only if none comes within the window is it sent again.
      logger.warn(
        { messageId, code: outcome.code, waitMs: whatsapp.reconcileAfterMs },
        'no answer from the WhatsApp provider; waiting for its status before sending again',
      );
      return delayUntil(job, Date.now() + whatsapp.reconcileAfterMs);
    case 'transient': {
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await settle(
        db,
        messageId,
        last
          ? { status: 'failed', reason: 'transient', errorCode: outcome.code, errorTitle: outcome.title }
          : { status: 'queued' },
      );
      if (last) await completeCampaignIfDone(db, row.campaignId);
      throw new Error(`provider did not take message ${messageId}: ${outcome.title}`);
    }
  }
}
