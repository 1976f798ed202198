import { describe, expect, it } from 'vitest';
import { createTestApi } from '../testing/harness.js';

const errorPaths = (body: { errors?: { path: string }[] }) =>
  (body.errors ?? []).map((error) => error.path).sort();

describe('classes', async () => {
  const api = await createTestApi();
  const schoolA = await api.createSchool({ name: 'School A' });
  const schoolB = await api.createSchool({ name: 'School B' });
  const adminA = await api.callerFor('school_admin', schoolA);
  const adminB = await api.callerFor('school_admin', schoolB);
  let sequence = 0;
  const newClass = (overrides: Record<string, unknown> = {}) => ({
    name: `Grade ${(sequence += 1)}`,
    grade: String(sequence),
    section: 'A',
    academicYear: '2026-27',
    ...overrides,
  });

  it('creates, reads, updates and deletes a class, auditing each write', async () => {
    const created = await api.request(adminA, 'POST', '/api/classes', {
      body: newClass({ name: 'Nursery', grade: 'N' }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schoolId: schoolA,
      name: 'Nursery',
      grade: 'N',
      section: 'A',
      academicYear: '2026-27',
    });
    const id = created.body.id as string;

    const read = await api.request(adminA, 'GET', `/api/classes/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const updated = await api.request(adminA, 'PATCH', `/api/classes/${id}`, {
      body: { section: 'B', name: 'Nursery B' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, section: 'B', name: 'Nursery B', grade: 'N' });

    expect((await api.request(adminA, 'DELETE', `/api/classes/${id}`)).status).toBe(204);
    expect((await api.request(adminA, 'GET', `/api/classes/${id}`)).status).toBe(404);

    const audits = await api.db
      .selectFrom('auditLog')
      .select(['action', 'before', 'after', 'schoolId', 'actorId'])
      .where('entityType', '=', 'class')
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audits.map((a) => a.action)).toEqual(['class.create', 'class.update', 'class.delete']);
    expect(audits.every((a) => a.schoolId === schoolA && a.actorId === adminA.userId)).toBe(true);
    expect(audits[1]!.before).toMatchObject({ section: 'A' });
    expect(audits[1]!.after).toMatchObject({ section: 'B' });
    expect(audits[2]!.before).toMatchObject({ name: 'Nursery B' });
  });

  it('refuses a second class with the same year, name and section (409), on create and on update', async () => {
    const body = newClass({ name: 'Grade 9', section: 'C' });
    expect((await api.request(adminA, 'POST', '/api/classes', { body })).status).toBe(201);
    const duplicate = await api.request(adminA, 'POST', '/api/classes', { body });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.code).toBe('conflict');
    // Same name in another school, or another year, is fine.
    expect((await api.request(adminB, 'POST', '/api/classes', { body })).status).toBe(201);
    expect(
      (await api.request(adminA, 'POST', '/api/classes', { body: { ...body, academicYear: '2027-28' } }))
        .status,
    ).toBe(201);

    const other = await api.request(adminA, 'POST', '/api/classes', { body: { ...body, section: 'D' } });
    const clash = await api.request(adminA, 'PATCH', `/api/classes/${other.body.id}`, {
      body: { section: 'C' },
    });
    expect(clash.status).toBe(409);
  });

  it('validates the body: academic year, unknown fields, schoolId rules', async () => {
    const bad = await api.request(adminA, 'POST', '/api/classes', {
      body: newClass({ academicYear: '2026-28', name: '', totalMinor: 5 }),
    });
    expect(bad.status).toBe(422);
    expect(errorPaths(bad.body)).toEqual(['body.academicYear', 'body.name', 'body.totalMinor']);
    const staffSchool = await api.request(adminA, 'POST', '/api/classes', {
      body: newClass({ schoolId: schoolB }),
    });
    expect(staffSchool.status).toBe(422);
    expect(errorPaths(staffSchool.body)).toEqual(['body.schoolId']);
    const noSchool = await api.request(api.admin, 'POST', '/api/classes', { body: newClass() });
    expect(noSchool.status).toBe(422);
    expect(errorPaths(noSchool.body)).toEqual(['body.schoolId']);
    const unknownSchool = await api.request(api.admin, 'POST', '/api/classes', {
      body: newClass({ schoolId: '00000000-0000-4000-8000-000000000000' }),
    });
    expect(unknownSchool.status).toBe(422);
    const asAdmin = await api.request(api.admin, 'POST', '/api/classes', {
      body: newClass({ schoolId: schoolB }),
    });
    expect(asAdmin.status).toBe(201);
    expect(asAdmin.body.schoolId).toBe(schoolB);
    expect((await api.request(adminA, 'PATCH', '/api/classes/123', { body: { name: 'x' } })).status).toBe(
      422,
    );
  });

  it('lets teachers and accountants read classes but not create them (403)', async () => {
    const accountant = await api.callerFor('accountant', schoolA);
    const teacher = await api.callerFor('teacher', schoolA);
    expect((await api.request(accountant, 'POST', '/api/classes', { body: newClass() })).status).toBe(403);
    expect((await api.request(teacher, 'POST', '/api/classes', { body: newClass() })).status).toBe(403);
    expect((await api.request(teacher, 'GET', '/api/classes')).status).toBe(200);
    expect((await api.request(accountant, 'GET', '/api/classes')).status).toBe(200);
  });

  it("hides another school's classes: 404 for read, update and delete; lists only own rows", async () => {
    const created = await api.request(adminA, 'POST', '/api/classes', { body: newClass() });
    const id = created.body.id as string;
    expect((await api.request(adminB, 'GET', `/api/classes/${id}`)).status).toBe(404);
    expect(
      (await api.request(adminB, 'PATCH', `/api/classes/${id}`, { body: { name: 'Mine now' } })).status,
    ).toBe(404);
    expect((await api.request(adminB, 'DELETE', `/api/classes/${id}`)).status).toBe(404);
    expect((await api.request(adminA, 'GET', `/api/classes/${id}`)).body.name).toBe(created.body.name);

    const listB = await api.request(adminB, 'GET', '/api/classes?limit=200');
    expect(listB.body.data.length).toBeGreaterThan(0);
    expect(listB.body.data.every((c: { schoolId: string }) => c.schoolId === schoolB)).toBe(true);
    // A staff member cannot widen the scope by naming another school.
    const widened = await api.request(adminB, 'GET', `/api/classes?schoolId=${schoolA}&limit=200`);
    expect(widened.body.data.every((c: { schoolId: string }) => c.schoolId === schoolB)).toBe(true);
  });

  it('filters by academic year and grade, sorts by whitelisted fields, and counts in SQL', async () => {
    const school = await api.createSchool();
    const admin = await api.callerFor('school_admin', school);
    for (const [name, grade, section, academicYear] of [
      ['Grade 1', '1', 'A', '2026-27'],
      ['Grade 1', '1', 'B', '2026-27'],
      ['Grade 2', '2', 'A', '2026-27'],
      ['Grade 1', '1', 'A', '2025-26'],
    ]) {
      const response = await api.request(admin, 'POST', '/api/classes', {
        body: { name, grade, section, academicYear },
      });
      expect(response.status).toBe(201);
    }
    const year = await api.request(admin, 'GET', '/api/classes?academicYear=2026-27&grade=1');
    expect(year.body.pagination).toEqual({ limit: 50, offset: 0, total: 2 });
    expect(year.body.data.map((c: { section: string }) => c.section)).toEqual(['A', 'B']);

    const byName = await api.request(admin, 'GET', '/api/classes?sort=-name&limit=1');
    expect(byName.body.pagination.total).toBe(4);
    expect(byName.body.data).toHaveLength(1);
    expect(byName.body.data[0].name).toBe('Grade 2');

    const byYear = await api.request(admin, 'GET', '/api/classes?sort=academicYear');
    expect(byYear.body.data[0].academicYear).toBe('2025-26');

    const platform = await api.request(api.admin, 'GET', `/api/classes?schoolId=${school}`);
    expect(platform.body.pagination.total).toBe(4);

    expect((await api.request(admin, 'GET', '/api/classes?sort=schoolId')).status).toBe(422);
    expect((await api.request(admin, 'GET', '/api/classes?limit=500')).status).toBe(422);
    expect((await api.request(admin, 'GET', '/api/classes?academicYear=2026')).status).toBe(422);
  });

  it('refuses to delete a class that students are in (409)', async () => {
    const created = await api.request(adminA, 'POST', '/api/classes', { body: newClass() });
    await api.db
      .insertInto('students')
      .values({
        schoolId: schoolA,
        classId: created.body.id,
        firstName: 'In',
        lastName: 'Class',
        admissionNo: 'C-1',
      })
      .execute();
    const response = await api.request(adminA, 'DELETE', `/api/classes/${created.body.id}`);
    expect(response.status).toBe(409);
    expect(response.body.detail).toMatch(/students/i);
    expect((await api.request(adminA, 'GET', `/api/classes/${created.body.id}`)).status).toBe(200);
  });
});
