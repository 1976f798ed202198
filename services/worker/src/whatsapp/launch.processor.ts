import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { sql, type Transaction } from 'kysely';
import { Audience, CAMPAIGN_SLOT_SIZE, JOBS, MessageParam } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { enqueueMany, transactionWithOutbox } from '@bursar/platform';
import { InvalidPhoneNumberError, toE164 } from '@bursar/whatsapp';
import { z } from 'zod';
import type { WhatsAppContext } from './context.js';
import { MissingFactError, resolveParams, type FactRow } from './facts.js';

/** Rows per multi-row insert of recipients (a dozen columns each, far under the parameter limit). */
const INSERT_CHUNK = 1_000;

interface Candidate extends FactRow {
  guardianId: string;
  phone: string;
  optedOut: boolean;
}

/**
 * The campaign's audience: one row per guardian (the primary payer of each
 * active student matching every filter; any linked guardian when the
 * audience names guardians), with the facts of their student with the
 * largest balance and that student's oldest open invoice.
 */
async function audienceOf(
  trx: Transaction<DB>,
  schoolId: string,
  audience: Audience,
  businessNumber: string,
  now: Date,
): Promise<Candidate[]> {
  const rows = await sql<Candidate & { balanceMinor: string | null }>`
    select distinct on (g.id)
      g.id as "guardianId", g.name as "guardianName", g.phone,
      st.first_name as "studentFirstName", st.last_name as "studentLastName",
      sc.name as "schoolName", sc.currency, sc.locale,
      inv.id as "invoiceId", inv.number as "invoiceNumber", inv.balance as "balanceMinor",
      to_char(inv.due_date, 'YYYY-MM-DD') as "dueDate",
      coalesce(oo.opted_out, false) as "optedOut"
    from student_guardians sg
    join guardians g on g.id = sg.guardian_id
    join students st on st.id = sg.student_id
    join schools sc on sc.id = sg.school_id
    left join lateral (
      select i.id, i.number, i.due_date, i.total_minor - i.paid_minor + i.refunded_minor as balance
      from invoices i
      where i.student_id = st.id and i.voided_at is null and i.total_minor - i.paid_minor + i.refunded_minor > 0
      order by i.due_date, i.number
      limit 1
    ) inv on true
    left join whatsapp_opt_outs oo on oo.business_number = ${businessNumber} and oo.phone = g.phone
    where sg.school_id = ${schoolId}
      and st.status = 'active'
      and ${audience.guardianIds ? sql`g.id = any(${audience.guardianIds}::uuid[])` : sql`sg.is_primary_payer`}
      and ${audience.classIds ? sql`st.class_id = any(${audience.classIds}::uuid[])` : sql`true`}
      and ${audience.minBalanceMinor ? sql`st.balance_minor >= ${audience.minBalanceMinor}` : sql`true`}
      and ${
        audience.overdueOnly
          ? sql`exists (select 1 from invoices o where o.student_id = st.id and o.voided_at is null
              and o.total_minor - o.paid_minor + o.refunded_minor > 0
              and o.due_date < (${now.toISOString()}::timestamptz at time zone sc.timezone)::date)`
          : sql`true`
      }
    order by g.id, st.balance_minor desc, st.id
  `.execute(trx);
  return rows.rows.map((row) => ({
    ...row,
    balanceMinor: row.balanceMinor === null ? null : BigInt(row.balanceMinor),
  }));
}

/**
 * `whatsapp-campaign.launch`: resolves the audience once into recipient rows
 * and queues one send per recipient, all in one transaction. A scheduled
 * campaign waits (delayed, holding no worker slot) until its time; a paused,
 * cancelled or finished one is left alone. Running again after a crash adds
 * no recipient twice (unique per campaign and guardian) and queues each
 * remaining send under the same job id.
 */
export async function processLaunchCampaign(
  { campaignId }: { campaignId: string },
  { db, outbox, whatsapp, job }: WhatsAppContext & { job: Job },
): Promise<{ status: string; recipients?: number; queued?: number }> {
  const now = new Date();
  const scheduled = await db
    .selectFrom('whatsappCampaigns')
    .select(['status', 'scheduledAt'])
    .where('id', '=', campaignId)
    .executeTakeFirst();
  if (!scheduled) throw new UnrecoverableError(`campaign ${campaignId} does not exist`);
  if (scheduled.status === 'scheduled' && scheduled.scheduledAt && scheduled.scheduledAt > now) {
    await job.moveToDelayed(scheduled.scheduledAt.getTime(), job.token);
    throw new DelayedError();
  }
  return transactionWithOutbox(db, outbox, async (trx) => {
    const campaign = await trx
      .selectFrom('whatsappCampaigns')
      .select(['id', 'schoolId', 'status', 'params', 'audience', 'round', 'templateId'])
      .where('id', '=', campaignId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    if (!['scheduled', 'launching', 'running'].includes(campaign.status)) return { status: campaign.status };
    const params = z.array(MessageParam).parse(campaign.params);
    const audience = Audience.parse(campaign.audience);
    const candidates = await audienceOf(trx, campaign.schoolId, audience, whatsapp.businessNumber, now);
    const rows = candidates.map((candidate) => {
      let phone = candidate.phone;
      let status = 'queued';
      let reason: string | null = null;
      let values: string[] = [];
      try {
        phone = toE164(candidate.phone);
        if (candidate.optedOut) {
          status = 'excluded';
          reason = 'opted_out';
        } else {
          values = resolveParams(params, candidate, whatsapp.payLink);
        }
      } catch (error) {
        if (error instanceof InvalidPhoneNumberError) {
          status = 'excluded';
          reason = 'invalid_number';
        } else if (error instanceof MissingFactError) {
          status = 'excluded';
          reason = 'missing_fact';
        } else throw error;
      }
      return {
        schoolId: campaign.schoolId,
        purpose: 'campaign',
        campaignId,
        guardianId: candidate.guardianId,
        invoiceId: candidate.invoiceId,
        phone,
        templateId: campaign.templateId,
        params: JSON.stringify(values),
        dedupeKey: `campaign:${campaignId}:${candidate.guardianId}`,
        status,
        reason,
      };
    });
    for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
      await trx
        .insertInto('whatsappMessages')
        .values(rows.slice(start, start + INSERT_CHUNK))
        .onConflict((conflict) => conflict.columns(['campaignId', 'guardianId']).doNothing())
        .execute();
    }
    const queued = await trx
      .selectFrom('whatsappMessages')
      .select('id')
      .where('campaignId', '=', campaignId)
      .where('status', '=', 'queued')
      .orderBy('createdAt')
      .orderBy('id')
      .execute();
    await enqueueMany(
      trx,
      JOBS['whatsapp.send'],
      queued.map((message, index) => ({
        messageId: message.id,
        slot: Math.floor(index / CAMPAIGN_SLOT_SIZE),
        round: campaign.round,
      })),
    );
    await trx
      .updateTable('whatsappCampaigns')
      .set({
        status: queued.length ? 'running' : 'completed',
        launchedAt: sql<Date>`coalesce(launched_at, now())`,
        finishedAt: queued.length ? null : sql<Date>`now()`,
        updatedAt: sql<Date>`now()`,
      })
      .where('id', '=', campaignId)
      .execute();
    return {
      status: queued.length ? 'running' : 'completed',
      recipients: rows.length,
      queued: queued.length,
    };
  });
}
