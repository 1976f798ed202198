import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

/**
 * Whether the campaign has a message still queued or in flight. Each state is
 * read from the end of the (campaign, status, id) index with a limit
 * (migration 0010), as a scalar subquery (an EXISTS would let the
 * planner drop the order and scan the table from its start, through every
 * message already sent), so the question costs a few index entries however
 * much of the campaign is sent.
 */
function campaignHasUnsettled(campaignId: string) {
  return sql<boolean>`(${campaignHas('queued', campaignId, null)} or ${campaignHas('sending', campaignId, null)})`;
}

/** Whether the campaign has a message other than `exceptId` in `status` (see {@link campaignHasUnsettled}). */
export function campaignHas(
  status: 'queued' | 'sending',
  campaignId: RawBuilder<unknown> | string,
  exceptId: string | null,
) {
  const other = exceptId ? sql`and u.id <> ${exceptId}` : sql``;
  return sql<boolean>`((select u.id from whatsapp_messages u
    where u.campaign_id = ${campaignId} and u.status = ${sql.lit(status)} ${other}
    order by u.id desc limit 1) is not null)`;
}

/** A running campaign with nothing left queued or in flight is completed. */
export async function completeCampaignIfDone(
  db: Kysely<DB> | Transaction<DB>,
  campaignId: string | null,
): Promise<void> {
  if (!campaignId) return;
  await sql`
    update whatsapp_campaigns set status = 'completed', finished_at = now(), updated_at = now()
    where id = ${campaignId} and status = 'running' and not ${campaignHasUnsettled(campaignId)}
  `.execute(db);
}

/**
 * Whether a webhook naming the message (Meta echoes Bursar's id as
 * `biz_opaque_callback_data`) came since `since` and is stored but not yet
 * applied, unless it has sat unapplied longer than `patienceMs` (then its
 * apply job is presumed stuck, and waiting on it would strand the message).
 * Reads only the webhooks still `received` (migration 0014).
 */
export async function unappliedWebhookNames(
  db: Kysely<DB>,
  messageId: string,
  since: Date,
  patienceMs: number,
): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    select exists (
      select 1 from whatsapp_events
      where status = 'received' and received_at >= ${since}
        and received_at > now() - make_interval(secs => ${patienceMs / 1000})
        and position(convert_to(${messageId}, 'UTF8') in body) > 0
    ) as found
  `.execute(db);
  return rows[0]?.found === true;
}
