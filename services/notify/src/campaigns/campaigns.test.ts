import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_SLOT_SIZE } from '@bursar/contracts';
import { uniquePhone, uniqueTag } from '@bursar/test-support';
import { startNotify } from '../testing/harness.js';

const HOUR_MS = 3_600_000;

describe('campaigns', async () => {
  const notify = await startNotify();
  const { db, rows } = notify;
  const schoolA = await rows.school();
  const schoolB = await rows.school();
  const adminA = await notify.callerFor('school_admin', schoolA);
  const accountantA = await notify.callerFor('accountant', schoolA);
  const adminB = await notify.callerFor('school_admin', schoolB);
  const teacherA = await notify.callerFor('teacher', schoolA);
  const guardianA = await notify.callerFor('guardian', schoolA);
  const classA = await rows.class(schoolA);
  const classB = await rows.class(schoolB);
  const guardianOfA = await rows.guardian(schoolA);
  const guardianOfB = await rows.guardian(schoolB);

  /** A template of the school with two placeholders, in `status`. */
  async function template(schoolId = schoolA, status = 'approved') {
    const row = await db
      .insertInto('whatsappTemplates')
      .values({
        schoolId,
        name: `dues_${uniqueTag()}`,
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, {{2}} is due.',
        paramCount: 2,
        status,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }
  const approvedA = await template();

  const campaignBody = (overrides: Record<string, unknown> = {}) => ({
    name: `Fees ${uniqueTag()}`,
    templateId: approvedA,
    params: ['guardian.name', 'invoice.balance'],
    audience: { classIds: [classA], overdueOnly: true },
    ...overrides,
  });
  async function createCampaign(overrides: Record<string, unknown> = {}, caller = adminA) {
    const response = await notify.request(caller, 'POST', '/notify/campaigns', {
      body: campaignBody(overrides),
    });
    expect(response.status).toBe(201);
    return response.body.id as string;
  }
  const act = (id: string, action: string, caller = adminA) =>
    notify.request(caller, 'POST', `/notify/campaigns/${id}/${action}`);
  const setStatus = (id: string, status: string) =>
    db.updateTable('whatsappCampaigns').set({ status }).where('id', '=', id).execute();
  const outboxRows = (jobName: string) =>
    db
      .selectFrom('outbox')
      .select([
        'jobId',
        'queue',
        sql<string>`payload::text`.as('payload'),
        sql<string>`options::text`.as('options'),
      ])
      .where('jobName', '=', jobName)
      .orderBy('id')
      .execute();
  /** Message rows of a campaign in the given statuses, created in this order. */
  async function messages(campaignId: string, statuses: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const status of statuses) {
      const row = await db
        .insertInto('whatsappMessages')
        .values({
          schoolId: schoolA,
          purpose: 'campaign',
          campaignId,
          phone: uniquePhone(),
          templateId: approvedA,
          dedupeKey: `test.${randomUUID()}`,
          status,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      ids.push(row.id);
    }
    return ids;
  }

  it('creates a draft with empty stats, reads and lists it, and audits it', async () => {
    const scheduledAt = new Date(Date.now() + 24 * HOUR_MS).toISOString();
    const created = await notify.request(accountantA, 'POST', '/notify/campaigns', {
      body: campaignBody({
        name: 'October fees',
        params: ['guardian.name', { text: 'the October fees' }],
        audience: { classIds: [classA], guardianIds: [guardianOfA], minBalanceMinor: 100 },
        scheduledAt,
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schoolId: schoolA,
      name: 'October fees',
      templateId: approvedA,
      params: ['guardian.name', { text: 'the October fees' }],
      audience: { classIds: [classA], guardianIds: [guardianOfA], minBalanceMinor: 100 },
      status: 'draft',
      scheduledAt,
      launchedAt: null,
      finishedAt: null,
    });
    expect(Object.values(created.body.stats)).toEqual(Array(10).fill(0));
    const id = created.body.id as string;
    expect((await notify.request(adminA, 'GET', `/notify/campaigns/${id}`)).body).toEqual(created.body);
    const drafts = await notify.request(adminA, 'GET', '/notify/campaigns?status=draft&limit=200');
    expect(drafts.body.data.map((c: { id: string }) => c.id)).toContain(id);
    const audit = await db
      .selectFrom('auditLog')
      .select(['action', 'actorId'])
      .where('entityId', '=', id)
      .executeTakeFirstOrThrow();
    expect(audit).toEqual({ action: 'whatsapp_campaign.create', actorId: accountantA.userId });
    const stored = await db
      .selectFrom('whatsappCampaigns')
      .select('createdBy')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(stored.createdBy).toBe(accountantA.userId);
  });

  it('refuses params that do not fit the template, unknown facts and a past scheduledAt (422)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ params: ['guardian.name'] }, 'body.params'],
      [{ params: ['guardian.name', 'invoice.balance', 'school.name'] }, 'body.params'],
      [{ params: ['guardian.name', 'guardian.bankAccount'] }, 'body.params.1'],
      [{ scheduledAt: new Date(Date.now() - 60_000).toISOString() }, 'body.scheduledAt'],
    ];
    for (const [overrides, path] of cases) {
      const response = await notify.request(adminA, 'POST', '/notify/campaigns', {
        body: campaignBody(overrides),
      });
      expect(response.status).toBe(422);
      expect(response.body.errors.map((error: { path: string }) => error.path)).toContain(path);
    }
  });

  it('refuses another school’s template, class or guardian with 404', async () => {
    const templateB = await template(schoolB);
    const cases: Record<string, unknown>[] = [
      { templateId: templateB },
      { templateId: randomUUID() },
      { audience: { classIds: [classA, classB] } },
      { audience: { guardianIds: [guardianOfA, guardianOfB] } },
      { audience: { guardianIds: [randomUUID()] } },
    ];
    for (const overrides of cases) {
      const response = await notify.request(adminA, 'POST', '/notify/campaigns', {
        body: campaignBody(overrides),
      });
      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    }
    // The same ids are fine in their own school, and repeated ones count once.
    expect(
      (
        await notify.request(adminB, 'POST', '/notify/campaigns', {
          body: campaignBody({ templateId: templateB, audience: { classIds: [classB, classB] } }),
        })
      ).status,
    ).toBe(201);
  });

  it('lets a platform admin create from a template alone (its school), but not contradict it', async () => {
    const created = await notify.request(notify.admin, 'POST', '/notify/campaigns', { body: campaignBody() });
    expect(created.status).toBe(201);
    expect(created.body.schoolId).toBe(schoolA);
    const contradicts = await notify.request(notify.admin, 'POST', '/notify/campaigns', {
      body: campaignBody({ schoolId: schoolB }),
    });
    expect(contradicts.status).toBe(422);
  });

  it('launches a draft with an approved template: launching, with exactly one launch job', async () => {
    const id = await createCampaign();
    const launched = await act(id, 'launch');
    expect(launched.status).toBe(202);
    expect(launched.body).toEqual({ id, status: 'launching' });
    const jobs = (await outboxRows('whatsapp-campaign.launch')).filter((job) => job.jobId.endsWith(id));
    expect(jobs).toEqual([
      {
        jobId: `whatsapp-campaign.launch.${id}`,
        queue: 'whatsapp-campaign',
        payload: expect.any(String),
        options: expect.any(String),
      },
    ]);
    expect(JSON.parse(jobs[0]!.payload)).toEqual({ campaignId: id });
    const read = await notify.request(adminA, 'GET', `/notify/campaigns/${id}`);
    expect(read.body.status).toBe('launching');
    expect(Date.parse(read.body.launchedAt)).toBeGreaterThan(Date.now() - 60_000);

    const twice = await act(id, 'launch');
    expect(twice.status).toBe(409);
    expect(
      (await outboxRows('whatsapp-campaign.launch')).filter((job) => job.jobId.endsWith(id)),
    ).toHaveLength(1);
  });

  it('schedules a campaign whose scheduledAt is ahead, enqueueing its launch all the same', async () => {
    const id = await createCampaign({ scheduledAt: new Date(Date.now() + 2 * HOUR_MS).toISOString() });
    const launched = await act(id, 'launch');
    expect(launched.body).toEqual({ id, status: 'scheduled' });
    expect(
      (await outboxRows('whatsapp-campaign.launch')).filter((job) => job.jobId.endsWith(id)),
    ).toHaveLength(1);
    const read = await notify.request(adminA, 'GET', `/notify/campaigns/${id}`);
    expect(read.body.launchedAt).toBeNull();
  });

  it('does not launch with a template that is not approved (409), enqueueing nothing', async () => {
    for (const status of ['draft', 'submitted', 'rejected', 'paused']) {
      const id = await createCampaign({ templateId: await template(schoolA, status) });
      const refused = await act(id, 'launch');
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toMatch(/template .* is not approved/);
      expect((await outboxRows('whatsapp-campaign.launch')).some((job) => job.jobId.endsWith(id))).toBe(
        false,
      );
      expect((await notify.request(adminA, 'GET', `/notify/campaigns/${id}`)).body.status).toBe('draft');
    }
  });

  it('pauses and resumes, queueing one send per queued message under the next round', async () => {
    const id = await createCampaign();
    await setStatus(id, 'running');
    const queued = await messages(id, [
      'queued',
      'sent',
      'queued',
      'excluded',
      'delivered',
      'queued',
      'sending',
    ]);
    const queuedIds = [queued[0], queued[2], queued[5]];

    expect((await act(id, 'resume')).status).toBe(409);
    expect((await act(id, 'pause')).body).toEqual({ id, status: 'paused' });
    expect((await act(id, 'pause')).status).toBe(409);
    const resumed = await act(id, 'resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body).toEqual({ id, status: 'running' });

    const sends = (await outboxRows('whatsapp.send')).filter((job) =>
      queued.some((m) => job.jobId.includes(m)),
    );
    expect(sends.map((job) => job.jobId)).toEqual(queuedIds.map((m) => `whatsapp.send.${m}.r1`));
    expect(sends.map((job) => JSON.parse(job.payload))).toEqual(
      queuedIds.map((messageId) => ({ messageId, slot: 0, round: 1 })),
    );
    expect(sends.every((job) => job.queue === 'whatsapp-send')).toBe(true);
    expect(JSON.parse(sends[0]!.options)).toMatchObject({ priority: 1 });

    // Each resume is a new round: the same messages again under new job ids.
    expect((await act(id, 'pause')).status).toBe(200);
    expect((await act(id, 'resume')).status).toBe(200);
    const round2 = (await outboxRows('whatsapp.send')).filter((job) => job.jobId.endsWith('.r2'));
    expect(round2.map((job) => job.jobId)).toEqual(queuedIds.map((m) => `whatsapp.send.${m}.r2`));
    const stored = await db
      .selectFrom('whatsappCampaigns')
      .select(['round', 'status'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ round: 2, status: 'running' });
    const audits = await db
      .selectFrom('auditLog')
      .select('action')
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audits.map((audit) => audit.action)).toEqual([
      'whatsapp_campaign.create',
      'whatsapp_campaign.pause',
      'whatsapp_campaign.resume',
      'whatsapp_campaign.pause',
      'whatsapp_campaign.resume',
    ]);
  });

  it('gives resumed sends slots of CAMPAIGN_SLOT_SIZE in the order the messages were created', async () => {
    const id = await createCampaign();
    await setStatus(id, 'paused');
    const count = CAMPAIGN_SLOT_SIZE * 2 + 1;
    const inserted = await db
      .insertInto('whatsappMessages')
      .values(
        Array.from({ length: count }, (_, index) => ({
          schoolId: schoolA,
          purpose: 'campaign',
          campaignId: id,
          phone: uniquePhone(),
          dedupeKey: `slots.${randomUUID()}`,
          // One second apart, oldest first, so the order is not the ids' (random) order.
          createdAt: new Date(Date.now() - (count - index) * 1000),
        })),
      )
      .returning('id')
      .execute();
    expect((await act(id, 'resume')).status).toBe(200);
    const mine = new Set(inserted.map((row) => row.id));
    const sends = (await outboxRows('whatsapp.send')).filter(
      (job) => job.jobId.endsWith('.r1') && mine.has(job.jobId.split('.')[2]!),
    );
    const slotOf = new Map(
      sends.map((job) => {
        const payload = JSON.parse(job.payload) as { messageId: string; slot: number };
        return [payload.messageId, payload.slot];
      }),
    );
    expect(slotOf.size).toBe(count);
    expect(inserted.map((row) => slotOf.get(row.id))).toEqual(
      Array.from({ length: count }, (_, index) => Math.floor(index / CAMPAIGN_SLOT_SIZE)),
    );
  });

  it('cancels a campaign that has not finished, and its queued messages with it', async () => {
    for (const status of ['draft', 'scheduled', 'launching', 'running', 'paused']) {
      const id = await createCampaign();
      await setStatus(id, status);
      const ids = await messages(id, ['queued', 'sent', 'queued', 'failed']);
      const cancelled = await act(id, 'cancel');
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toEqual({ id, status: 'cancelled' });
      const statuses = await db
        .selectFrom('whatsappMessages')
        .select(['id', 'status'])
        .where('campaignId', '=', id)
        .execute();
      const byId = new Map(statuses.map((row) => [row.id, row.status]));
      expect(ids.map((m) => byId.get(m))).toEqual(['cancelled', 'sent', 'cancelled', 'failed']);
      const read = await notify.request(adminA, 'GET', `/notify/campaigns/${id}`);
      expect(read.body.finishedAt).not.toBeNull();
      expect(read.body.stats).toMatchObject({ total: 4, cancelled: 2, sent: 1, failed: 1, queued: 0 });
    }
    for (const status of ['completed', 'cancelled']) {
      const id = await createCampaign();
      await setStatus(id, status);
      const refused = await act(id, 'cancel');
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toContain(status);
    }
  });

  it('refuses each transition from the wrong status with 409', async () => {
    const id = await createCampaign();
    const cases: [string, string[]][] = [
      ['pause', ['draft', 'scheduled', 'paused', 'completed', 'cancelled']],
      ['resume', ['draft', 'scheduled', 'launching', 'running', 'completed', 'cancelled']],
      ['launch', ['scheduled', 'launching', 'running', 'paused', 'completed', 'cancelled']],
    ];
    for (const [action, statuses] of cases) {
      for (const status of statuses) {
        await setStatus(id, status);
        const refused = await act(id, action);
        expect(refused.status, `${action} from ${status}`).toBe(409);
      }
    }
  });

  it('hides another school’s campaigns (404) and keeps teachers and guardians out (403)', async () => {
    const theirs = await createCampaign({ templateId: await template(schoolB), audience: {} }, adminB);
    for (const action of ['launch', 'pause', 'resume', 'cancel']) {
      expect((await act(theirs, action)).status).toBe(404);
    }
    expect((await notify.request(adminA, 'GET', `/notify/campaigns/${theirs}`)).status).toBe(404);
    expect((await notify.request(adminA, 'GET', `/notify/campaigns/${theirs}/recipients`)).status).toBe(404);
    const list = await notify.request(adminA, 'GET', '/notify/campaigns?limit=200');
    expect(list.body.data.some((c: { schoolId: string }) => c.schoolId !== schoolA)).toBe(false);
    expect((await notify.request(notify.admin, 'GET', `/notify/campaigns/${theirs}`)).status).toBe(200);

    const mine = await createCampaign();
    for (const caller of [teacherA, guardianA]) {
      expect((await notify.request(caller, 'GET', '/notify/campaigns')).status).toBe(403);
      expect((await notify.request(caller, 'GET', `/notify/campaigns/${mine}`)).status).toBe(403);
      expect((await act(mine, 'launch', caller)).status).toBe(403);
      expect(
        (await notify.request(caller, 'POST', '/notify/campaigns', { body: campaignBody() })).status,
      ).toBe(403);
    }
  });
});
