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
