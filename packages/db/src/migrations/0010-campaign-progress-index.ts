import { type Kysely, sql } from 'kysely';

// Every send asks whether its campaign has another message still queued or in
// flight (the one that finds none completes the campaign). Rows a campaign has
// sent stay in the (campaign_id, status) index as dead entries until vacuum,
// and the planner answered the question with a scan from the table's start,
// through every message already sent: a check that grew with the campaign, to
// milliseconds per send near the end of 50,000. With the id in the index the
// check reads the index from its end (message ids are random, so live and
// sent entries are mixed evenly): a handful of entries until the last few
// messages. The new index serves the old one's queries too.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create index whatsapp_messages_campaign_status_idx on whatsapp_messages (campaign_id, status, id)
      where campaign_id is not null
  `.execute(db);
  await sql`drop index whatsapp_messages_campaign_idx`.execute(db);
}
