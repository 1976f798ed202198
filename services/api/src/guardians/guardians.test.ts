import { describe, expect, it } from 'vitest';
import { createTestApi } from '../testing/harness.js';

const errorPaths = (body: { errors?: { path: string }[] }) =>
  (body.errors ?? []).map((error) => error.path).sort();

describe('guardians', async () => {
  const api = await createTestApi();
  const schoolA = await api.createSchool({ name: 'School A' });
  const schoolB = await api.createSchool({ name: 'School B' });
  const adminA = await api.callerFor('school_admin', schoolA);
  const adminB = await api.callerFor('school_admin', schoolB);
  let sequence = 0;
  // Valid Indian mobile numbers, one per call.
  const nextPhone = () => `+9198${String(10_000_000 + (sequence += 1)).slice(-8)}`;
  const newGuardian = (overrides: Record<string, unknown> = {}) => ({
    name: 'Sunita Rao',
    phone: nextPhone(),
    ...overrides,
  });
  const newStudent = async (caller = adminA) =>
    (
      await api.request(caller, 'POST', '/api/students', {
        body: { firstName: 'Kid', lastName: `No${(sequence += 1)}`, admissionNo: `S-${sequence}` },
      })
    ).body.id as string;

  it('creates a guardian with the phone normalised to E.164 and defaults; reads, updates, deletes; audits', async () => {
    const created = await api.request(adminA, 'POST', '/api/guardians', {
      body: { name: 'Meena Shah', phone: '+91 98200-12345', preferredLanguage: 'HI' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schoolId: schoolA,
      name: 'Meena Shah',
      phone: '+919820012345',
      whatsappOptIn: false,
      preferredLanguage: 'hi',
    });
    const id = created.body.id as string;
    const read = await api.request(adminA, 'GET', `/api/guardians/${id}`);
    expect(read.body).toEqual({ ...created.body, students: [] });

    const updated = await api.request(adminA, 'PATCH', `/api/guardians/${id}`, {
      body: { whatsappOptIn: true, phone: '+12025550143', preferredLanguage: 'es' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      whatsappOptIn: true,
      phone: '+12025550143',
      preferredLanguage: 'es',
    });

    expect((await api.request(adminA, 'DELETE', `/api/guardians/${id}`)).status).toBe(204);
    expect((await api.request(adminA, 'GET', `/api/guardians/${id}`)).status).toBe(404);

    const audits = await api.db
      .selectFrom('auditLog')
      .select(['action', 'before', 'after', 'schoolId'])
      .where('entityType', '=', 'guardian')
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audits.map((a) => a.action)).toEqual(['guardian.create', 'guardian.update', 'guardian.delete']);
    expect(audits[1]!.before).toMatchObject({ whatsappOptIn: false });
    expect(audits[1]!.after).toMatchObject({ whatsappOptIn: true });
  });

  it('refuses phones that are not valid international numbers (422 on body.phone) without echoing them', async () => {
    const shape = await api.request(adminA, 'POST', '/api/guardians', {
      body: newGuardian({ phone: '12345' }),
    });
    expect(shape.status).toBe(422);
    expect(errorPaths(shape.body)).toEqual(['body.phone']);
    const plan = await api.request(adminA, 'POST', '/api/guardians', {
      body: newGuardian({ phone: '+1 000 000 0000' }),
    });
    expect(plan.status).toBe(422);
    expect(errorPaths(plan.body)).toEqual(['body.phone']);
    expect(JSON.stringify(plan.body)).not.toContain('000 000');
    const language = await api.request(adminA, 'POST', '/api/guardians', {
      body: newGuardian({ preferredLanguage: 'english', whatsappOptIn: 'yes' }),
    });
    expect(language.status).toBe(422);
    expect(errorPaths(language.body)).toEqual(['body.preferredLanguage', 'body.whatsappOptIn']);
    const school = await api.request(adminA, 'POST', '/api/guardians', {
      body: newGuardian({ schoolId: schoolB }),
    });
    expect(school.status).toBe(422);
    expect(errorPaths(school.body)).toEqual(['body.schoolId']);
  });

  it('refuses the same phone twice in a school, however it is typed (409), but not in another school', async () => {
    expect(
      (await api.request(adminA, 'POST', '/api/guardians', { body: newGuardian({ phone: '+919811122233' }) }))
        .status,
    ).toBe(201);
    const duplicate = await api.request(adminA, 'POST', '/api/guardians', {
      body: newGuardian({ phone: '+91 98111 22233' }),
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.code).toBe('conflict');
    expect(JSON.stringify(duplicate.body)).not.toContain('98111');
    expect(
      (await api.request(adminB, 'POST', '/api/guardians', { body: newGuardian({ phone: '+919811122233' }) }))
        .status,
    ).toBe(201);
    const other = await api.request(adminA, 'POST', '/api/guardians', { body: newGuardian() });
    const clash = await api.request(adminA, 'PATCH', `/api/guardians/${other.body.id}`, {
      body: { phone: '+919811122233' },
    });
    expect(clash.status).toBe(409);
  });

  it('lets accountants manage guardians and teachers only read them', async () => {
    const accountant = await api.callerFor('accountant', schoolA);
    const teacher = await api.callerFor('teacher', schoolA);
    const created = await api.request(accountant, 'POST', '/api/guardians', { body: newGuardian() });
    expect(created.status).toBe(201);
    expect((await api.request(teacher, 'POST', '/api/guardians', { body: newGuardian() })).status).toBe(403);
    expect((await api.request(teacher, 'GET', `/api/guardians/${created.body.id}`)).status).toBe(200);
    expect((await api.request(teacher, 'GET', '/api/guardians')).status).toBe(200);
  });

  it('links guardians to a student idempotently, with at most one primary payer', async () => {
    const student = await newStudent();
    const mother = (
      await api.request(adminA, 'POST', '/api/guardians', { body: newGuardian({ name: 'Mother' }) })
    ).body.id;
    const father = (
      await api.request(adminA, 'POST', '/api/guardians', { body: newGuardian({ name: 'Father' }) })
    ).body.id;

    const first = await api.request(adminA, 'PUT', `/api/students/${student}/guardians/${mother}`, {
      body: { relation: 'mother', isPrimaryPayer: true },
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      studentId: student,
      guardianId: mother,
      relation: 'mother',
      isPrimaryPayer: true,
    });
    const again = await api.request(adminA, 'PUT', `/api/students/${student}/guardians/${mother}`, {
      body: { relation: 'mother', isPrimaryPayer: true },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const second = await api.request(adminA, 'PUT', `/api/students/${student}/guardians/${father}`, {
      body: { relation: 'father', isPrimaryPayer: true },
    });
    expect(second.status).toBe(200);
    const detail = await api.request(adminA, 'GET', `/api/students/${student}`);
    expect(
      detail.body.guardians.map((g: { name: string; isPrimaryPayer: boolean }) => [g.name, g.isPrimaryPayer]),
    ).toEqual([
      ['Father', true],
      ['Mother', false],
    ]);

    const guardian = await api.request(adminA, 'GET', `/api/guardians/${mother}`);
    expect(guardian.body.students).toEqual([
      expect.objectContaining({ id: student, relation: 'mother', isPrimaryPayer: false, status: 'active' }),
    ]);
    const byStudent = await api.request(adminA, 'GET', `/api/guardians?studentId=${student}&sort=-name`);
    expect(byStudent.body.data.map((g: { name: string }) => g.name)).toEqual(['Mother', 'Father']);

    const audits = await api.db
      .selectFrom('auditLog')
      .select(['action', 'entityId', 'after'])
      .where('entityType', '=', 'student_guardian')
      .where('entityId', 'like', `${student}:%`)
      .orderBy('id')
      .execute();
    expect(audits.map((a) => [a.action, a.entityId.split(':')[1]])).toEqual([
      ['student_guardian.link', mother],
      ['student_guardian.update', mother],
      ['student_guardian.link', father],
    ]);
    expect(audits[1]!.after).toMatchObject({ isPrimaryPayer: false });
  });

  it('unlinks a guardian; unlinking again is a 404', async () => {
    const student = await newStudent();
    const guardian = (await api.request(adminA, 'POST', '/api/guardians', { body: newGuardian() })).body.id;
    await api.request(adminA, 'PUT', `/api/students/${student}/guardians/${guardian}`, {
      body: { relation: 'aunt' },
    });
    expect(
      (await api.request(adminA, 'DELETE', `/api/students/${student}/guardians/${guardian}`)).status,
    ).toBe(204);
    expect((await api.request(adminA, 'GET', `/api/students/${student}`)).body.guardians).toEqual([]);
    expect(
      (await api.request(adminA, 'DELETE', `/api/students/${student}/guardians/${guardian}`)).status,
    ).toBe(404);
    const audit = await api.db
      .selectFrom('auditLog')
      .select('before')
      .where('action', '=', 'student_guardian.unlink')
      .where('entityId', '=', `${student}:${guardian}`)
      .executeTakeFirstOrThrow();
    expect(audit.before).toMatchObject({ relation: 'aunt' });
  });

  it("hides another school's guardians: 404 for read, update, delete and links; lists only own rows", async () => {
    const guardianA = (await api.request(adminA, 'POST', '/api/guardians', { body: newGuardian() })).body
      .id as string;
    const studentA = await newStudent(adminA);
    const studentB = await newStudent(adminB);
    expect((await api.request(adminB, 'GET', `/api/guardians/${guardianA}`)).status).toBe(404);
    expect(
      (await api.request(adminB, 'PATCH', `/api/guardians/${guardianA}`, { body: { name: 'X' } })).status,
    ).toBe(404);
    expect((await api.request(adminB, 'DELETE', `/api/guardians/${guardianA}`)).status).toBe(404);
    // Neither a school B caller nor a platform admin can link across schools.
    expect(
      (
        await api.request(adminB, 'PUT', `/api/students/${studentB}/guardians/${guardianA}`, {
          body: { relation: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await api.request(adminB, 'PUT', `/api/students/${studentA}/guardians/${guardianA}`, {
          body: { relation: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await api.request(api.admin, 'PUT', `/api/students/${studentB}/guardians/${guardianA}`, {
          body: { relation: 'x' },
        })
      ).status,
    ).toBe(404);
    expect((await api.request(adminA, 'GET', `/api/guardians/${guardianA}`)).body.students).toEqual([]);

    const listB = await api.request(adminB, 'GET', '/api/guardians?limit=200');
    expect(listB.body.data.length).toBeGreaterThan(0);
    expect(listB.body.data.every((g: { schoolId: string }) => g.schoolId === schoolB)).toBe(true);
  });

  it('filters by opt-in and search text, sorts by whitelisted fields, and counts in SQL', async () => {
    const school = await api.createSchool();
    const admin = await api.callerFor('accountant', school);
    for (const [name, whatsappOptIn] of [
      ['Zara Ali', true],
      ['Arun Das', false],
      ['Maya Das', true],
    ] as const) {
      await api.request(admin, 'POST', '/api/guardians', { body: newGuardian({ name, whatsappOptIn }) });
    }
    const optedIn = await api.request(admin, 'GET', '/api/guardians?whatsappOptIn=true');
    expect(optedIn.body.data.map((g: { name: string }) => g.name)).toEqual(['Maya Das', 'Zara Ali']);
    expect(optedIn.body.pagination).toEqual({ limit: 50, offset: 0, total: 2 });
    const optedOut = await api.request(admin, 'GET', '/api/guardians?whatsappOptIn=false');
    expect(optedOut.body.data.map((g: { name: string }) => g.name)).toEqual(['Arun Das']);
    const das = await api.request(admin, 'GET', '/api/guardians?q=das&sort=-name&limit=1');
    expect(das.body.data.map((g: { name: string }) => g.name)).toEqual(['Maya Das']);
    expect(das.body.pagination.total).toBe(2);

    const bad = await api.request(admin, 'GET', '/api/guardians?whatsappOptIn=yes&sort=phone');
    expect(bad.status).toBe(422);
    expect(errorPaths(bad.body)).toEqual(['query.sort', 'query.whatsappOptIn']);
  });
});
