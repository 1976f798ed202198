import type { Kysely, Transaction } from 'kysely';
import {
  AppError,
  CAMPAIGN_SLOT_SIZE,
  JOBS,
  type Audience,
  type Campaign,
  type CampaignRecipient as CampaignRecipientSchema,
  type CampaignStats,
  type CampaignStatus,
  type CampaignStatusChange,
  type CreateCampaignBody,
  type ListCampaignsQuery,
  type ListRecipientsQuery,
  type MessageParam,
  type MessageStatus,
  type Paginated,
} from '@bursar/contracts';
import type { DB } from '@bursar/db';
import {
  enqueue,
  enqueueMany,
  fieldError,
  notFound,
  recordAudit,
  transactionWithOutbox,
  type Actor,
  type OutboxRelay,
} from '@bursar/platform';
import { maskPhone } from '@bursar/whatsapp';
import type { z } from 'zod';
import { schoolForWrite } from '../schools/schools.service.js';
import { findTemplate } from '../templates/templates.repository.js';
import {
  campaignStats,
  cancelQueuedMessages,
  countSchoolClasses,
  countSchoolGuardians,
  findCampaign,
  insertCampaign,
  listCampaigns as selectCampaigns,
  listRecipients as selectRecipients,
  queuedMessageIds,
  recipientsAfter,
  updateCampaign,
  type CampaignRow,
  type RecipientRow,
} from './campaigns.repository.js';
import { csvLine } from '@bursar/contracts';

type Db = Kysely<DB> | Transaction<DB>;
type CampaignRecipient = z.infer<typeof CampaignRecipientSchema>;

/** What a status change needs: the pool, and the relay to kick once the jobs it enqueued commit. */
export interface CampaignDeps {
  db: Kysely<DB>;
  outbox: Pick<OutboxRelay, 'kick'>;
}

/** Statuses a campaign never leaves. */
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'cancelled']);

function toCampaign(row: CampaignRow, stats: CampaignStats): Campaign {
  return {
    id: row.id,
    schoolId: row.schoolId,
    name: row.name,
    templateId: row.templateId,
    params: JSON.parse(row.params) as MessageParam[],
    audience: JSON.parse(row.audience) as Audience,
    status: row.status as CampaignStatus,
    scheduledAt: row.scheduledAt?.toISOString() ?? null,
    launchedAt: row.launchedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    stats,
  };
}

async function withStats(db: Db, row: CampaignRow): Promise<Campaign> {
  const stats = await campaignStats(db, [row.id]);
  return toCampaign(row, stats.get(row.id)!);
}

/**
 * Every class and guardian the audience names must be the school's: one of
 * another school is a 404, as any other school's row is (its id must not be
 * confirmed to exist).
 */
async function assertAudienceInSchool(db: Db, schoolId: string, audience: Audience): Promise<void> {
  if (audience.classIds) {
    const ids = [...new Set(audience.classIds)];
    if ((await countSchoolClasses(db, schoolId, ids)) !== ids.length) throw notFound('Class');
  }
  if (audience.guardianIds) {
    const ids = [...new Set(audience.guardianIds)];
    if ((await countSchoolGuardians(db, schoolId, ids)) !== ids.length) throw notFound('Guardian');
  }
}

/**
 * Creates a draft campaign of one of the school's templates, with one param
 * per placeholder. A platform admin need not name the school: the template
 * says which. Nothing is sent until it is launched.
 */
export async function createCampaign(
  trx: Transaction<DB>,
  actor: Actor,
  body: CreateCampaignBody,
): Promise<Campaign> {
  const { caller } = actor;
  let schoolId: string;
  if (caller.role === 'platform_admin') {
    const template = await findTemplate(trx, null, body.templateId);
    if (!template) throw notFound('Template');
    schoolId = await schoolForWrite(trx, caller, body.schoolId, template.schoolId);
  } else {
    schoolId = await schoolForWrite(trx, caller, body.schoolId);
  }
  const template = await findTemplate(trx, schoolId, body.templateId);
  if (!template) throw notFound('Template');
  if (body.params.length !== template.paramCount) {
    throw fieldError(
      'body.params',
      `the template has ${template.paramCount} placeholder(s); give exactly ${template.paramCount} param(s)`,
    );
  }
  await assertAudienceInSchool(trx, schoolId, body.audience);
  if (body.scheduledAt !== undefined && Date.parse(body.scheduledAt) <= Date.now()) {
    throw fieldError('body.scheduledAt', 'must be in the future (leave it out to launch at once)');
  }
  const row = await insertCampaign(trx, {
    schoolId,
    name: body.name,
    templateId: template.id,
    // As JSON text: the pool's CamelCasePlugin would rename keys inside a jsonb value.
    params: JSON.stringify(body.params),
    audience: JSON.stringify(body.audience),
    scheduledAt: body.scheduledAt ?? null,
    createdBy: caller.userId,
  });
  const created = await withStats(trx, row);
  await recordAudit(trx, actor, {
    action: 'whatsapp_campaign.create',
    entityType: 'whatsapp_campaign',
    entityId: created.id,
    schoolId,
    after: created,
  });
  return created;
}

/** One campaign with its stats; 404 outside the caller's school. */
export async function getCampaign(db: Db, scope: string | null, id: string): Promise<Campaign> {
  const row = await findCampaign(db, scope, id);
  if (!row) throw notFound('Campaign');
  return withStats(db, row);
}

/** A page of campaigns, each with its stats (one stats query for the page). */
export async function listCampaigns(
  db: Db,
  scope: string | null,
  query: z.infer<typeof ListCampaignsQuery>,
): Promise<Paginated<Campaign>> {
  const { rows, total } = await selectCampaigns(db, scope, query);
  const stats = await campaignStats(
    db,
    rows.map((row) => row.id),
  );
  return {
    data: rows.map((row) => toCampaign(row, stats.get(row.id)!)),
    pagination: { limit: query.limit, offset: query.offset, total },
  };
}

/** The campaign, locked for a status change; 404 outside the caller's school. */
async function lockCampaign(trx: Transaction<DB>, scope: string | null, id: string): Promise<CampaignRow> {
  const row = await findCampaign(trx, scope, id, true);
  if (!row) throw notFound('Campaign');
  return row;
}

function notNow(row: CampaignRow, action: string, allowed: string): AppError {
  return new AppError('conflict', `The campaign is ${row.status}; only ${allowed} can be ${action}`);
}

async function auditTransition(
  trx: Transaction<DB>,
  actor: Actor,
  action: string,
  before: CampaignRow,
  after: Record<string, unknown>,
): Promise<void> {
  await recordAudit(trx, actor, {
    action: `whatsapp_campaign.${action}`,
    entityType: 'whatsapp_campaign',
    entityId: before.id,
    schoolId: before.schoolId,
    before: { status: before.status, round: before.round },
    after,
  });
}

/**
 * Launches a draft whose template is approved: `scheduled` when its
 * `scheduledAt` is still ahead, else `launching`; either way the launch job
 * goes into the outbox in the same transaction (the worker's launch processor
 * waits for `scheduledAt` itself, resolves the audience and fans out).
 */
export async function launchCampaign(
  deps: CampaignDeps,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<CampaignStatusChange> {
  return transactionWithOutbox(deps.db, deps.outbox, async (trx) => {
    const row = await lockCampaign(trx, scope, id);
    if (row.status !== 'draft') throw notNow(row, 'launched', 'a draft');
    const template = await findTemplate(trx, row.schoolId, row.templateId);
    if (template?.status !== 'approved') {
      throw new AppError(
        'conflict',
        `The template ${template?.name ?? row.templateId} is not approved (it is ${template?.status ?? 'gone'}); ` +
          'a campaign launches only with an approved template',
      );
    }
    const later = row.scheduledAt !== null && row.scheduledAt.getTime() > Date.now();
    const status: CampaignStatus = later ? 'scheduled' : 'launching';
    await updateCampaign(trx, id, later ? { status } : { status, launchedAt: new Date() });
    await enqueue(trx, JOBS['whatsapp-campaign.launch'], { campaignId: id });
    await auditTransition(trx, actor, 'launch', row, { status });
    return { id, status };
  });
}

/**
 * Pauses a campaign that is sending. Sends already queued complete without
 * sending while it is paused (the worker checks); resuming queues them again.
 */
export async function pauseCampaign(
  deps: CampaignDeps,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<CampaignStatusChange> {
  return deps.db.transaction().execute(async (trx) => {
    const row = await lockCampaign(trx, scope, id);
    if (row.status !== 'launching' && row.status !== 'running') {
      throw notNow(row, 'paused', 'a launching or running campaign');
    }
    await updateCampaign(trx, id, { status: 'paused' });
    await auditTransition(trx, actor, 'pause', row, { status: 'paused' });
    return { id, status: 'paused' as const };
  });
}

/**
 * Resumes a paused campaign: the next round, and one send job per message
 * still `queued`, in the same transaction. The round is in the send's job id,
 * so these are new jobs rather than the ones that completed unsent during the
 * pause. A message's slot is its place among the queued ones, so a resumed
 * campaign takes its turn beside other schools' as a new one would.
 */
export async function resumeCampaign(
  deps: CampaignDeps,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<CampaignStatusChange> {
  return transactionWithOutbox(deps.db, deps.outbox, async (trx) => {
    const row = await lockCampaign(trx, scope, id);
    if (row.status !== 'paused') throw notNow(row, 'resumed', 'a paused campaign');
    const round = row.round + 1;
    await updateCampaign(trx, id, { status: 'running', round });
    const messageIds = await queuedMessageIds(trx, id);
    await enqueueMany(
      trx,
      JOBS['whatsapp.send'],
      messageIds.map((messageId, position) => ({
        messageId,
        slot: Math.floor(position / CAMPAIGN_SLOT_SIZE),
        round,
      })),
    );
    // Nothing left to send (what was in flight at the pause has settled): no send will finish it.
    const done =
      messageIds.length === 0 &&
      !(await trx
        .selectFrom('whatsappMessages')
        .select('id')
        .where('campaignId', '=', id)
        .where('status', '=', 'sending')
        .limit(1)
        .executeTakeFirst());
    const status = done ? ('completed' as const) : ('running' as const);
    if (done) await updateCampaign(trx, id, { status, finishedAt: new Date() });
    await auditTransition(trx, actor, 'resume', row, { status, round, queued: messageIds.length });
    return { id, status };
  });
}

/**
 * Cancels a campaign that has not finished, and with it every message not
 * yet handed to the provider. Messages already sent stay as they are.
 */
export async function cancelCampaign(
  deps: CampaignDeps,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<CampaignStatusChange> {
  return deps.db.transaction().execute(async (trx) => {
    const row = await lockCampaign(trx, scope, id);
    if (TERMINAL.has(row.status)) {
      throw new AppError('conflict', `The campaign is already ${row.status}`);
    }
    await updateCampaign(trx, id, { status: 'cancelled', finishedAt: new Date() });
    const cancelled = await cancelQueuedMessages(trx, id);
    await auditTransition(trx, actor, 'cancel', row, { status: 'cancelled', cancelledMessages: cancelled });
    return { id, status: 'cancelled' as const };
  });
}

function toRecipient(row: RecipientRow): CampaignRecipient {
  return {
    messageId: row.messageId,
    guardianId: row.guardianId,
    guardianName: row.guardianName,
    // Staff see enough to recognise a number, never the whole of it.
    phone: maskPhone(row.phone),
    status: row.status as MessageStatus,
    reason: row.reason,
    errorCode: row.errorCode,
    sentAt: row.sentAt?.toISOString() ?? null,
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    readAt: row.readAt?.toISOString() ?? null,
  };
}

/** A page of a campaign's recipients, phone numbers masked; 404 outside the caller's school. */
export async function listRecipients(
  db: Db,
  scope: string | null,
  id: string,
  query: z.infer<typeof ListRecipientsQuery>,
): Promise<Paginated<CampaignRecipient>> {
  if (!(await findCampaign(db, scope, id))) throw notFound('Campaign');
  const { rows, total } = await selectRecipients(db, id, query);
  return { data: rows.map(toRecipient), pagination: { limit: query.limit, offset: query.offset, total } };
}

/** Rows read per query of a CSV export. */
export const CSV_PAGE_SIZE = 1_000;

const CSV_HEADER = [
  'messageId',
  'guardianId',
  'guardianName',
  'phone',
  'status',
  'reason',
  'errorCode',
  'sentAt',
  'deliveredAt',
  'readAt',
] as const satisfies readonly (keyof CampaignRecipient)[];

/**
 * Every recipient of a campaign (of one status, when given) as CSV: a header
 * line, then one chunk of lines per page of {@link CSV_PAGE_SIZE}, read one
 * page at a time as the consumer asks for more, so an export of any size
 * holds one page in memory. The campaign is checked first, so a 404 is
 * thrown before anything is written.
 */
export async function recipientsCsv(
  db: Db,
  scope: string | null,
  id: string,
  status: MessageStatus | undefined,
): Promise<AsyncGenerator<string>> {
  if (!(await findCampaign(db, scope, id))) throw notFound('Campaign');
  async function* lines(): AsyncGenerator<string> {
    yield csvLine([...CSV_HEADER]);
    let after: string | undefined;
    for (;;) {
      const page = await recipientsAfter(db, id, status, after, CSV_PAGE_SIZE);
      if (page.length) {
        yield page
          .map((row) => {
            const recipient = toRecipient(row);
            return csvLine(CSV_HEADER.map((column) => recipient[column]));
          })
          .join('');
      }
      if (page.length < CSV_PAGE_SIZE) return;
      after = page[page.length - 1]!.messageId;
    }
  }
  return lines();
}
