import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyPayment, issueInvoice } from '@bursar/ledger';
import { daysFromToday, uniquePhone, uniqueTag } from '@bursar/test-support';
import { startNotify } from '../testing/harness.js';

const DAY_MS = 86_400_000;

describe('campaign stats', async () => {
  const notify = await startNotify();
  const { db, rows } = notify;
  const schoolId = await rows.school();
  const admin = await notify.callerFor('school_admin', schoolId);
  const template = await db
    .insertInto('whatsappTemplates')
    .values({
      schoolId,
      name: `stats_${uniqueTag()}`,
      language: 'en',
      category: 'utility',
      body: 'Dear {{1}}, fees are due.',
      paramCount: 1,
      status: 'approved',
    })
    .returning('id')
    .executeTakeFirstOrThrow();

  async function campaign(): Promise<string> {
    const response = await notify.request(admin, 'POST', '/notify/campaigns', {
      body: {
        name: `Stats ${uniqueTag()}`,
        templateId: template.id,
        params: ['guardian.name'],
        audience: {},
      },
    });
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  /** A guardian with `students` students of their own. */
  async function family(students = 1): Promise<{ guardianId: string; studentIds: string[] }> {
    const guardianId = await rows.guardian(schoolId);
    const studentIds: string[] = [];
    for (let i = 0; i < students; i++) {
      const studentId = await rows.student(schoolId);
      await db
        .insertInto('studentGuardians')
        .values({ schoolId, studentId, guardianId, relation: 'mother', isPrimaryPayer: true })
        .execute();
      studentIds.push(studentId);
    }
    return { guardianId, studentIds };
  }

  /** An invoice for the student paid (in part) at `paidAt`, through the ledger as money always moves. */
  async function paid(studentId: string, paidAt: Date): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const invoiceId = await issueInvoice(trx, {
        schoolId,
        studentId,
        issueDate: daysFromToday(-60),
        dueDate: daysFromToday(-30),
        lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: 500_000n }],
      });
      await applyPayment(trx, { schoolId, invoiceId, amountMinor: 1_000n, method: 'upi', paidAt });
    });
  }

  async function message(
    campaignId: string,
    status: string,
    values: { guardianId?: string; reason?: string; sentAt?: Date } = {},
  ): Promise<void> {
    await db
      .insertInto('whatsappMessages')
      .values({
        schoolId,
        purpose: 'campaign',
        campaignId,
        guardianId: values.guardianId ?? (await rows.guardian(schoolId)),
        phone: uniquePhone(),
        templateId: template.id,
        dedupeKey: `stats.${randomUUID()}`,
        status,
        reason: values.reason ?? null,
        sentAt: values.sentAt ?? null,
      })
      .execute();
  }

  const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

  it('counts every recipient once by its status, adding up to the total, with paidAfter', async () => {
    const id = await campaign();
    for (const reason of ['opted_out', 'opted_out', 'invalid_number', 'no_phone']) {
      await message(id, 'excluded', { reason });
    }
    for (const status of ['queued', 'queued', 'sending', 'failed', 'cancelled']) await message(id, status);

    // Paid 2 days after the message: counts.
    const early = await family();
    await message(id, 'sent', { guardianId: early.guardianId, sentAt: daysAgo(3) });
    await paid(early.studentIds[0]!, daysAgo(1));
    // Paid 6 days after: counts; paid before the message, or 8 days after: does not.
    const withinWeek = await family();
    await message(id, 'delivered', { guardianId: withinWeek.guardianId, sentAt: daysAgo(10) });
    await paid(withinWeek.studentIds[0]!, daysAgo(4));
    const outsideWeek = await family();
    await message(id, 'delivered', { guardianId: outsideWeek.guardianId, sentAt: daysAgo(10) });
    await paid(outsideWeek.studentIds[0]!, daysAgo(12));
    await paid(outsideWeek.studentIds[0]!, daysAgo(2));
    // Two children paid for in the week: one recipient.
    const twoChildren = await family(2);
    await message(id, 'read', { guardianId: twoChildren.guardianId, sentAt: daysAgo(5) });
    await paid(twoChildren.studentIds[0]!, daysAgo(4));
    await paid(twoChildren.studentIds[1]!, daysAgo(3));
    // Never sent (failed before the provider took it): a payment does not count for it.
    const neverSent = await family();
    await message(id, 'failed', { guardianId: neverSent.guardianId });
    await paid(neverSent.studentIds[0]!, daysAgo(1));
    // Someone else's payment says nothing about this guardian.
    const unrelated = await family();
    await message(id, 'read', { guardianId: unrelated.guardianId, sentAt: daysAgo(2) });
    await paid((await family()).studentIds[0]!, daysAgo(1));

    const response = await notify.request(admin, 'GET', `/notify/campaigns/${id}`);
    expect(response.status).toBe(200);
    const { stats } = response.body;
    expect(stats).toEqual({
      total: 15,
      excludedOptedOut: 2,
      excludedInvalid: 2,
      queued: 3,
      sent: 1,
      delivered: 2,
      read: 2,
      failed: 2,
      cancelled: 1,
      paidAfter: 3,
    });
    const { total, paidAfter: _paidAfter, ...byStatus } = stats as Record<string, number>;
    expect(Object.values(byStatus).reduce((sum, n) => sum + n, 0)).toBe(total);
  });

  it('gives each campaign of a list page its own stats', async () => {
    const first = await campaign();
    const second = await campaign();
    await message(first, 'queued');
    await message(first, 'read', { sentAt: daysAgo(1) });
    await message(second, 'excluded', { reason: 'opted_out' });
    const list = await notify.request(admin, 'GET', '/notify/campaigns?limit=200');
    const byId = new Map(list.body.data.map((c: { id: string; stats: unknown }) => [c.id, c.stats]));
    expect(byId.get(first)).toMatchObject({ total: 2, queued: 1, read: 1, excludedOptedOut: 0 });
    expect(byId.get(second)).toMatchObject({ total: 1, queued: 0, excludedOptedOut: 1 });
    for (const id of [first, second]) {
      expect((await notify.request(admin, 'GET', `/notify/campaigns/${id}`)).body.stats).toEqual(
        byId.get(id),
      );
    }
  });
});
