import { describe, expect, it } from 'vitest';
import { startNotify } from '../testing/harness.js';

describe('/notify/settings', async () => {
  const notify = await startNotify();
  const { db, rows } = notify;
  const schoolA = await rows.school();
  const schoolB = await rows.school();
  const adminA = await notify.callerFor('school_admin', schoolA);
  const accountantA = await notify.callerFor('accountant', schoolA);
  const adminB = await notify.callerFor('school_admin', schoolB);
  const teacherA = await notify.callerFor('teacher', schoolA);
  const patch = (body: Record<string, unknown>, caller = adminA) =>
    notify.request(caller, 'PATCH', '/notify/settings', { body });
  const paths = (body: { errors?: { path: string }[] }) => (body.errors ?? []).map((error) => error.path);

  it('reads the defaults, then round-trips every setting', async () => {
    const defaults = await notify.request(accountantA, 'GET', '/notify/settings');
    expect(defaults.status).toBe(200);
    expect(defaults.body).toEqual({
      schoolId: schoolA,
      quietHoursStart: null,
      quietHoursEnd: null,
      reminderOffsets: [-3, 0, 7, 14],
      optOutKeywords: [],
      optInKeywords: [],
    });

    const changed = await patch({
      quietHours: { start: '21:30', end: '07:00' },
      reminderOffsets: [14, -7, 0],
      optOutKeywords: ['  Band Karo ', 'ROKO', 'roko'],
      optInKeywords: ['Shuru'],
    });
    expect(changed.status).toBe(200);
    const expected = {
      schoolId: schoolA,
      quietHoursStart: '21:30',
      quietHoursEnd: '07:00',
      reminderOffsets: [-7, 0, 14],
      optOutKeywords: ['band karo', 'roko'],
      optInKeywords: ['shuru'],
    };
    expect(changed.body).toEqual(expected);
    expect((await notify.request(adminA, 'GET', '/notify/settings')).body).toEqual(expected);
    const stored = await db
      .selectFrom('schools')
      .select(['quietHoursStart', 'optOutKeywords'])
      .where('id', '=', schoolA)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ quietHoursStart: '21:30:00', optOutKeywords: ['band karo', 'roko'] });

    // A setting not sent stays; null quiet hours clears both ends.
    const partial = await patch({ quietHours: null }, accountantA);
    expect(partial.body).toEqual({ ...expected, quietHoursStart: null, quietHoursEnd: null });
    const audit = await db
      .selectFrom('auditLog')
      .select(['action', 'before', 'after'])
      .where('entityId', '=', schoolA)
      .where('action', '=', 'school.messaging_settings.update')
      .orderBy('id')
      .execute();
    expect(audit).toHaveLength(2);
    expect(audit[1]!.before).toMatchObject({ quietHoursStart: '21:30' });
    expect(audit[1]!.after).toMatchObject({ quietHoursStart: null });
    // The other school is untouched.
    expect((await notify.request(adminB, 'GET', '/notify/settings')).body.quietHoursStart).toBeNull();
  });

  it('refuses settings that do not make sense (422), changing nothing', async () => {
    const before = (await notify.request(adminB, 'GET', '/notify/settings')).body;
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'body'],
      [{ quietHours: { start: '25:00', end: '07:00' } }, 'body.quietHours.start'],
      [{ quietHours: { start: '7:00', end: '08:00' } }, 'body.quietHours.start'],
      [{ quietHours: { start: '21:00' } }, 'body.quietHours.end'],
      [{ quietHours: { start: '08:00', end: '08:00' } }, 'body.quietHours'],
      [{ reminderOffsets: [1, 1] }, 'body.reminderOffsets'],
      [{ reminderOffsets: [500] }, 'body.reminderOffsets.0'],
      [{ reminderOffsets: [0.5] }, 'body.reminderOffsets.0'],
      [{ optOutKeywords: ['   '] }, 'body.optOutKeywords.0'],
      [{ optOutKeywords: ['ruko'], optInKeywords: ['RUKO'] }, 'body.optInKeywords'],
      [{ quietHoursStart: '21:00' }, 'body.quietHoursStart'],
    ];
    for (const [body, path] of cases) {
      const response = await patch(body, adminB);
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(paths(response.body), JSON.stringify(body)).toContain(path);
    }
    // A word already an opt-out word cannot become an opt-in word either.
    expect((await patch({ optOutKeywords: ['ruko'] }, adminB)).status).toBe(200);
    const clash = await patch({ optInKeywords: ['Ruko'] }, adminB);
    expect(clash.status).toBe(422);
    expect(paths(clash.body)).toEqual(['body.optInKeywords']);
    expect((await notify.request(adminB, 'GET', '/notify/settings')).body).toEqual({
      ...before,
      optOutKeywords: ['ruko'],
    });
  });

  it('scopes staff to their own school and has a platform admin name one', async () => {
    const named = await notify.request(adminA, 'GET', `/notify/settings?schoolId=${schoolB}`);
    // Staff read their own school whatever they name.
    expect(named.body.schoolId).toBe(schoolA);
    const write = await patch({ schoolId: schoolB, reminderOffsets: [1] });
    expect(write.status).toBe(422);
    expect(paths(write.body)).toEqual(['body.schoolId']);

    const { admin } = notify;
    const unnamed = await notify.request(admin, 'GET', '/notify/settings');
    expect(unnamed.status).toBe(422);
    expect(paths(unnamed.body)).toEqual(['query.schoolId']);
    expect((await notify.request(admin, 'GET', `/notify/settings?schoolId=${schoolB}`)).body.schoolId).toBe(
      schoolB,
    );
    const changed = await patch({ schoolId: schoolB, reminderOffsets: [-1, 3] }, admin);
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ schoolId: schoolB, reminderOffsets: [-1, 3] });
    expect((await patch({ reminderOffsets: [2] }, admin)).status).toBe(422);
    const gone = await notify.request(
      admin,
      'GET',
      '/notify/settings?schoolId=00000000-0000-4000-8000-000000000000',
    );
    expect(gone.status).toBe(404);

    expect((await notify.request(teacherA, 'GET', '/notify/settings')).status).toBe(403);
    expect((await patch({ reminderOffsets: [1] }, teacherA)).status).toBe(403);
  });
});
