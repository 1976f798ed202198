import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '@bursar/db';

/** A running campaign with nothing left queued or in flight is completed. */
export async function completeCampaignIfDone(
  db: Kysely<DB> | Transaction<DB>,
  campaignId: string | null,
): Promise<void> {
  if (!campaignId) return;
  await sql`
    update whatsapp_campaigns set status = 'completed', finished_at = now(), updated_at = now()
    where id = ${campaignId} and status = 'running'
      and not exists (select 1 from whatsapp_messages
                      where campaign_id = ${campaignId} and status in ('queued', 'sending'))
  `.execute(db);
}
