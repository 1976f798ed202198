import { describe, expect, it } from 'vitest';
import { uniqueTag } from '@bursar/test-support';
import { startNotify } from '../testing/harness.js';

const PROBLEM = /^application\/problem\+json/;

describe('templates', async () => {
  const notify = await startNotify();
  const { db, rows } = notify;
  const schoolA = await rows.school({ name: 'School A' });
  const schoolB = await rows.school({ name: 'School B' });
  const adminA = await notify.callerFor('school_admin', schoolA);
  const accountantA = await notify.callerFor('accountant', schoolA);
  const adminB = await notify.callerFor('school_admin', schoolB);
  const teacherA = await notify.callerFor('teacher', schoolA);
  const guardianA = await notify.callerFor('guardian', schoolA);

  const draft = (overrides: Record<string, unknown> = {}) => ({
    name: `fee_reminder_${uniqueTag()}`,
    language: 'en',
    category: 'utility',
    body: 'Dear {{1}}, the fees of {{2}} ({{3}}) are due on {{4}}. Thank you.',
    ...overrides,
  });
  const create = (body: Record<string, unknown>, caller = adminA) =>
    notify.request(caller, 'POST', '/notify/templates', { body });
  const setStatus = (id: string, status: string) =>
    db.updateTable('whatsappTemplates').set({ status }).where('id', '=', id).execute();

  it('creates a draft, reads, lists, changes and deletes it, auditing every write', async () => {
    const created = await create(draft({ name: 'welcome_note', purpose: 'reminder' }), accountantA);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schoolId: schoolA,
      name: 'welcome_note',
      language: 'en',
      category: 'utility',
      paramCount: 4,
      header: 'none',
      purpose: 'reminder',
      status: 'draft',
      statusReason: null,
    });
    const id = created.body.id as string;
    const read = await notify.request(adminA, 'GET', `/notify/templates/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const drafts = await notify.request(adminA, 'GET', '/notify/templates?status=draft&limit=200');
    expect(drafts.status).toBe(200);
    expect(drafts.body.data.map((t: { id: string }) => t.id)).toContain(id);
    expect(drafts.body.pagination).toMatchObject({ limit: 200, offset: 0 });
    expect(drafts.body.pagination.total).toBe(drafts.body.data.length);
    const approved = await notify.request(adminA, 'GET', '/notify/templates?status=approved');
    expect(approved.body.data.map((t: { id: string }) => t.id)).not.toContain(id);

    const changed = await notify.request(adminA, 'PATCH', `/notify/templates/${id}`, {
      body: { body: 'Hello {{1}}, welcome to {{2}}.', purpose: null },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id, paramCount: 2, purpose: null, status: 'draft' });

    expect((await notify.request(adminA, 'DELETE', `/notify/templates/${id}`)).status).toBe(204);
    expect((await notify.request(adminA, 'GET', `/notify/templates/${id}`)).status).toBe(404);
    const audits = await db
      .selectFrom('auditLog')
      .select(['action', 'schoolId', 'actorId'])
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audits.map((audit) => audit.action)).toEqual([
      'whatsapp_template.create',
      'whatsapp_template.update',
      'whatsapp_template.delete',
    ]);
    expect(audits.every((audit) => audit.schoolId === schoolA)).toBe(true);
    expect(audits[0]!.actorId).toBe(accountantA.userId);
  });

  it('counts a repeated placeholder once and refuses gaps in the numbering', async () => {
    const repeated = await create(draft({ body: 'Hi {{1}}, {{1}} owes {{2}} today.' }));
    expect(repeated.body.paramCount).toBe(2);
    const none = await create(draft({ body: 'The school is closed tomorrow.' }));
    expect(none.body.paramCount).toBe(0);
    const gap = await create(draft({ body: 'Hi {{1}}, you owe {{3}}.' }));
    expect(gap.status).toBe(422);
    expect(gap.body.errors.map((error: { path: string }) => error.path)).toEqual(['body.body']);
  });

  it('refuses a second template with the same name and language, or a purpose already taken (409)', async () => {
    const first = await create(draft({ name: 'receipt_note', purpose: 'receipt' }));
    expect(first.status).toBe(201);
    const sameName = await create(draft({ name: 'receipt_note' }));
    expect(sameName.status).toBe(409);
    expect(sameName.headers.get('content-type')).toMatch(PROBLEM);
    expect(sameName.body.code).toBe('conflict');
    // Another language, or another school, is another template.
    expect((await create(draft({ name: 'receipt_note', language: 'hi' }))).status).toBe(201);
    expect((await create(draft({ name: 'receipt_note', purpose: 'receipt' }), adminB)).status).toBe(201);

    const samePurpose = await create(draft({ purpose: 'receipt' }));
    expect(samePurpose.status).toBe(409);
    expect(samePurpose.body.detail).toMatch(/purpose/);
    // A rejected template gives its purpose up.
    await setStatus(first.body.id, 'rejected');
    const replacement = await create(draft({ purpose: 'receipt' }));
    expect(replacement.status).toBe(201);
    // ... and editing the rejected one back into a draft would take it again.
    const revived = await notify.request(adminA, 'PATCH', `/notify/templates/${first.body.id}`, {
      body: { category: 'marketing' },
    });
    expect(revived.status).toBe(409);
  });

  it('changes only drafts and rejected templates; a rejected one becomes a draft again', async () => {
    const created = await create(draft());
    const id = created.body.id as string;
    for (const status of ['submitted', 'approved', 'paused']) {
      await setStatus(id, status);
      const refused = await notify.request(adminA, 'PATCH', `/notify/templates/${id}`, {
        body: { category: 'marketing' },
      });
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toContain(status);
    }
    await db
      .updateTable('whatsappTemplates')
      .set({ status: 'rejected', statusReason: 'INVALID_FORMAT' })
      .where('id', '=', id)
      .execute();
    const edited = await notify.request(adminA, 'PATCH', `/notify/templates/${id}`, {
      body: { body: 'Dear {{1}}, {{2}} is due.' },
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ status: 'draft', statusReason: null, paramCount: 2 });
    const empty = await notify.request(adminA, 'PATCH', `/notify/templates/${id}`, { body: {} });
    expect(empty.status).toBe(422);
  });

  it('deletes only drafts that no campaign uses (409 otherwise)', async () => {
    const approved = await create(draft());
    await setStatus(approved.body.id, 'approved');
    const notDraft = await notify.request(adminA, 'DELETE', `/notify/templates/${approved.body.id}`);
    expect(notDraft.status).toBe(409);

    const used = await create(draft());
    await db
      .insertInto('whatsappCampaigns')
      .values({
        schoolId: schoolA,
        name: 'Uses the draft',
        templateId: used.body.id,
        params: JSON.stringify(['guardian.name', 'student.firstName', 'invoice.number', 'invoice.dueDate']),
        audience: JSON.stringify({}),
      })
      .execute();
    const inUse = await notify.request(adminA, 'DELETE', `/notify/templates/${used.body.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.detail).toMatch(/campaign/);
    expect((await notify.request(adminA, 'GET', `/notify/templates/${used.body.id}`)).status).toBe(200);
  });

  it('hides another school’s templates (404) and keeps teachers and guardians out (403)', async () => {
    const theirs = await create(draft(), adminB);
    const id = theirs.body.id as string;
    const attempts = [
      notify.request(adminA, 'GET', `/notify/templates/${id}`),
      notify.request(adminA, 'PATCH', `/notify/templates/${id}`, { body: { category: 'marketing' } }),
      notify.request(adminA, 'DELETE', `/notify/templates/${id}`),
      notify.request(adminA, 'POST', `/notify/templates/${id}/submit`),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(PROBLEM);
    }
    const list = await notify.request(adminA, 'GET', '/notify/templates?limit=200');
    expect(list.body.data.some((t: { schoolId: string }) => t.schoolId !== schoolA)).toBe(false);
    // A staff member cannot write into another school by naming it.
    const named = await create(draft({ schoolId: schoolB }));
    expect(named.status).toBe(422);
    expect(named.body.errors[0].path).toBe('body.schoolId');

    for (const caller of [teacherA, guardianA]) {
      expect((await notify.request(caller, 'GET', '/notify/templates')).status).toBe(403);
      expect((await create(draft(), caller)).status).toBe(403);
    }
    expect((await notify.request(null, 'GET', '/notify/templates')).status).toBe(401);
  });

  it('lets a platform admin create in a school they name, and read across schools', async () => {
    const missing = await create(draft(), notify.admin);
    expect(missing.status).toBe(422);
    expect(missing.body.errors[0].path).toBe('body.schoolId');
    const created = await create(draft({ schoolId: schoolB }), notify.admin);
    expect(created.status).toBe(201);
    expect(created.body.schoolId).toBe(schoolB);
    const read = await notify.request(notify.admin, 'GET', `/notify/templates/${created.body.id}`);
    expect(read.status).toBe(200);
    const onlyB = await notify.request(
      notify.admin,
      'GET',
      `/notify/templates?schoolId=${schoolB}&limit=200`,
    );
    expect(onlyB.body.data.every((t: { schoolId: string }) => t.schoolId === schoolB)).toBe(true);
  });
});

describe('POST /notify/templates/:id/submit', async () => {
  const notify = await startNotify();
  const { db, rows, sandbox } = notify;
  const schoolId = await rows.school();
  const admin = await notify.callerFor('school_admin', schoolId);
  // The same database behind apps configured otherwise (harnesses start at collection, so they are closed).
  const database = { db, url: notify.databaseUrl };
  const unreachable = await startNotify({ database, env: { WHATSAPP_API_BASE: 'http://127.0.0.1:9' } });
  const withSample = await startNotify({
    database,
    env: { WHATSAPP_DOCUMENT_HEADER_HANDLE: '4::sample-handle' },
  });
  const gupshup = await startNotify({ database, env: { WHATSAPP_SANDBOX_API: 'gupshup' } });
  const create = async (overrides: Record<string, unknown> = {}) => {
    const response = await notify.request(admin, 'POST', '/notify/templates', {
      body: {
        name: `dues_${uniqueTag()}`,
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, {{2}} is due on {{3}}. Thank you.',
        ...overrides,
      },
    });
    expect(response.status).toBe(201);
    return response.body.id as string;
  };

  it('submits a draft to the provider, stores its id, and takes in the review webhook that follows', async () => {
    const id = await create();
    const submitted = await notify.request(admin, 'POST', `/notify/templates/${id}/submit`);
    expect(submitted.status).toBe(200);
    // The sandbox approves at once, in its answer as Meta may.
    expect(submitted.body).toMatchObject({ id, status: 'approved' });
    const [known] = sandbox.templates().filter((template) => template.bodyText.startsWith('Dear {{1}}'));
    expect(known).toMatchObject({ category: 'UTILITY', placeholders: 3, documentHeader: false });
    const row = await db
      .selectFrom('whatsappTemplates')
      .select(['providerTemplateId', 'status'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.providerTemplateId).toBe(known!.id);

    // The review webhook comes back signed to this app, which stores it for the worker.
    await sandbox.idle();
    const review = sandbox.deliveries().find((delivery) => delivery.kind === 'template');
    expect(review).toMatchObject({ status: 200 });
    const events = await db.selectFrom('whatsappEvents').select(['id', 'provider']).execute();
    expect(events).toEqual([{ id: expect.any(String), provider: 'meta' }]);
    const jobs = await db
      .selectFrom('outbox')
      .select('jobId')
      .where('jobName', '=', 'whatsapp-event.apply')
      .execute();
    expect(jobs).toEqual([{ jobId: `whatsapp-event.apply.${events[0]!.id}` }]);

    const again = await notify.request(admin, 'POST', `/notify/templates/${id}/submit`);
    expect(again.status).toBe(409);
    const audit = await db
      .selectFrom('auditLog')
      .select('action')
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audit.map((entry) => entry.action)).toEqual([
      'whatsapp_template.create',
      'whatsapp_template.submit',
    ]);
  });

  it('answers a provider refusal with 422 and its reason, leaving the draft as it was', async () => {
    // Meta refuses a variable at the very start of the body.
    const id = await create({ body: '{{1}} owes the school {{2}}.' });
    const refused = await notify.request(admin, 'POST', `/notify/templates/${id}/submit`);
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toMatch(PROBLEM);
    expect(refused.body.detail).toContain("Variables can't be at the start or end of the template.");
    const row = await db
      .selectFrom('whatsappTemplates')
      .select(['status', 'providerTemplateId'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'draft', providerTemplateId: null });
  });

  it('answers 503 when the provider cannot be reached, and 409 for a document header without a sample', async () => {
    const id = await create();
    const down = await unreachable.request(admin, 'POST', `/notify/templates/${id}/submit`);
    expect(down.status).toBe(503);
    expect(down.body.code).toBe('service_unavailable');

    const withHeader = await create({ header: 'document' });
    const noSample = await notify.request(admin, 'POST', `/notify/templates/${withHeader}/submit`);
    expect(noSample.status).toBe(409);
    expect(noSample.body.detail).toContain('WHATSAPP_DOCUMENT_HEADER_HANDLE');
  });

  it('submits a document header with the configured sample handle', async () => {
    const id = await create({ header: 'document', body: 'Your receipt for {{1}} is attached.' });
    const submitted = await withSample.request(admin, 'POST', `/notify/templates/${id}/submit`);
    expect(submitted.status).toBe(200);
    expect(withSample.sandbox.templates()).toMatchObject([{ documentHeader: true, placeholders: 1 }]);
  });

  it('says that Gupshup takes templates only in its console (409)', async () => {
    const id = await create();
    const refused = await gupshup.request(admin, 'POST', `/notify/templates/${id}/submit`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/gupshup.*console/i);
    expect(gupshup.sandbox.templates()).toEqual([]);
  });
});
