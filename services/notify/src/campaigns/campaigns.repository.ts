import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { CampaignStats } from '@bursar/contracts';
import type { DB, WhatsappCampaigns } from '@bursar/db';
import { liveSchoolIds } from '../schools/schools.repository.js';

type Db = Kysely<DB> | Transaction<DB>;

// jsonb read as text: the pool's CamelCasePlugin would rename keys inside a jsonb value it reads.
const COLUMNS = [
  'whatsappCampaigns.id',
  'whatsappCampaigns.schoolId',
  'whatsappCampaigns.name',
  'whatsappCampaigns.templateId',
  sql<string>`whatsapp_campaigns.params::text`.as('params'),
  sql<string>`whatsapp_campaigns.audience::text`.as('audience'),
  'whatsappCampaigns.status',
  'whatsappCampaigns.round',
  'whatsappCampaigns.scheduledAt',
  'whatsappCampaigns.launchedAt',
  'whatsappCampaigns.finishedAt',
  'whatsappCampaigns.createdAt',
] as const;

export type CampaignRow = Awaited<ReturnType<typeof insertCampaign>>;

/** A campaign of a live school within `scope` (null: any school); `lock` takes it FOR UPDATE. */
export function findCampaign(db: Db, scope: string | null, id: string, lock = false) {
  let query = db
    .selectFrom('whatsappCampaigns')
    .select(COLUMNS)
    .where('whatsappCampaigns.id', '=', id)
    .where('whatsappCampaigns.schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('whatsappCampaigns.schoolId', '=', scope);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/** A page of campaigns, newest first, and how many match. */
export async function listCampaigns(
  db: Db,
  scope: string | null,
  filter: { status?: string | undefined; limit: number; offset: number },
) {
  let base = db.selectFrom('whatsappCampaigns').where('whatsappCampaigns.schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('whatsappCampaigns.schoolId', '=', scope);
  if (filter.status) base = base.where('whatsappCampaigns.status', '=', filter.status);
  const [rows, count] = await Promise.all([
    base
      .select(COLUMNS)
      .orderBy('whatsappCampaigns.createdAt', 'desc')
      .orderBy('whatsappCampaigns.id')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertCampaign(db: Db, values: Insertable<WhatsappCampaigns>) {
  return db.insertInto('whatsappCampaigns').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

export function updateCampaign(db: Db, id: string, values: Updateable<WhatsappCampaigns>) {
  return db
    .updateTable('whatsappCampaigns')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** How many of `ids` (distinct) are classes of the school. */
export async function countSchoolClasses(db: Db, schoolId: string, ids: string[]): Promise<number> {
  const row = await db
    .selectFrom('classes')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('schoolId', '=', schoolId)
    .where(sql<boolean>`id = any(${ids}::uuid[])`)
    .executeTakeFirstOrThrow();
  return row.n;
}

/** How many of `ids` (distinct; up to 50,000, so one array parameter rather than a list) are guardians of the school. */
export async function countSchoolGuardians(db: Db, schoolId: string, ids: string[]): Promise<number> {
  const row = await db
    .selectFrom('guardians')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('schoolId', '=', schoolId)
    .where(sql<boolean>`id = any(${ids}::uuid[])`)
    .executeTakeFirstOrThrow();
  return row.n;
}

/** How long after its message a payment counts as paid after it. */
const PAID_AFTER_WINDOW = sql`interval '7 days'`;

const ZERO_STATS: CampaignStats = {
  total: 0,
  excludedOptedOut: 0,
  excludedInvalid: 0,
  queued: 0,
  sent: 0,
  delivered: 0,
  read: 0,
  failed: 0,
  cancelled: 0,
  paidAfter: 0,
};

/**
 * The stats of several campaigns in one query: each message row (one per
 * recipient) counted once, by its status, so the counts add up to `total`.
 * An exclusion for any reason but an opt-out (an invalid number, a guardian
 * without one) counts as `excludedInvalid`. `paidAfter`: sent messages whose
 * guardian has a student with a payment in the 7 days from the send
 * (`payments.student_id` is the paid invoice's student, and is indexed with
 * `paid_at`).
 */
export async function campaignStats(db: Db, campaignIds: string[]): Promise<Map<string, CampaignStats>> {
  const stats = new Map<string, CampaignStats>(campaignIds.map((id) => [id, { ...ZERO_STATS }]));
  if (!campaignIds.length) return stats;
  const count = (condition: ReturnType<typeof sql>) =>
    sql<number>`(count(*) filter (where ${condition}))::int`;
  const rows = await db
    .selectFrom('whatsappMessages as m')
    .select([
      'm.campaignId',
      sql<number>`count(*)::int`.as('total'),
      count(sql`m.status = 'excluded' and m.reason = 'opted_out'`).as('excludedOptedOut'),
      count(sql`m.status = 'excluded' and m.reason is distinct from 'opted_out'`).as('excludedInvalid'),
      count(sql`m.status in ('queued', 'sending')`).as('queued'),
      count(sql`m.status = 'sent'`).as('sent'),
      count(sql`m.status = 'delivered'`).as('delivered'),
      count(sql`m.status = 'read'`).as('read'),
      count(sql`m.status = 'failed'`).as('failed'),
      count(sql`m.status = 'cancelled'`).as('cancelled'),
      count(sql`m.sent_at is not null and exists (
        select 1
        from student_guardians sg
        join payments p on p.student_id = sg.student_id
        where sg.guardian_id = m.guardian_id
          and p.paid_at between m.sent_at and m.sent_at + ${PAID_AFTER_WINDOW}
      )`).as('paidAfter'),
    ])
    .where(sql<boolean>`m.campaign_id = any(${campaignIds}::uuid[])`)
    .groupBy('m.campaignId')
    .execute();
  for (const { campaignId, ...counts } of rows) stats.set(campaignId!, counts);
  return stats;
}

/**
 * The ids of the campaign's messages still `queued`, oldest first
 * (`created_at, id`): a message's index in this list is its place for the
 * send queue's priority slots.
 */
export async function queuedMessageIds(db: Db, campaignId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('whatsappMessages')
    .select('id')
    .where('campaignId', '=', campaignId)
    .where('status', '=', 'queued')
    .orderBy('createdAt')
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Cancels the campaign's messages not yet handed to the provider; returns how many. */
export async function cancelQueuedMessages(trx: Transaction<DB>, campaignId: string): Promise<number> {
  const result = await trx
    .updateTable('whatsappMessages')
    .set({ status: 'cancelled', reason: 'campaign_cancelled' })
    .where('campaignId', '=', campaignId)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

const RECIPIENT_COLUMNS = [
  'm.id as messageId',
  'm.guardianId',
  'g.name as guardianName',
  'm.phone',
  'm.status',
  'm.reason',
  'm.errorCode',
  'm.sentAt',
  'm.deliveredAt',
  'm.readAt',
] as const;

function recipientsOf(db: Db, campaignId: string, status: string | undefined) {
  let query = db
    .selectFrom('whatsappMessages as m')
    .leftJoin('guardians as g', 'g.id', 'm.guardianId')
    .where('m.campaignId', '=', campaignId);
  if (status) query = query.where('m.status', '=', status);
  return query;
}

export type RecipientRow = Awaited<ReturnType<typeof recipientsAfter>>[number];

/** A page of a campaign's recipients in the order they were created, and how many match. */
export async function listRecipients(
  db: Db,
  campaignId: string,
  filter: { status?: string | undefined; limit: number; offset: number },
) {
  const base = recipientsOf(db, campaignId, filter.status);
  const [rows, count] = await Promise.all([
    base
      .select(RECIPIENT_COLUMNS)
      .orderBy('m.createdAt')
      .orderBy('m.id')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

/**
 * Up to `limit` recipients after the message `afterId` in the same order as
 * `listRecipients` (keyset paging, for an export of any size). The cursor's
 * `created_at` is read back in SQL, so no precision is lost in JavaScript's
 * millisecond dates.
 */
export function recipientsAfter(
  db: Db,
  campaignId: string,
  status: string | undefined,
  afterId: string | undefined,
  limit: number,
) {
  let query = recipientsOf(db, campaignId, status);
  if (afterId) {
    query = query.where(
      sql<boolean>`(m.created_at, m.id) > (select c.created_at, c.id from whatsapp_messages c where c.id = ${afterId})`,
    );
  }
  return query.select(RECIPIENT_COLUMNS).orderBy('m.createdAt').orderBy('m.id').limit(limit).execute();
}
