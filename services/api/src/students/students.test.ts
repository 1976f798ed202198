import { describe, expect, it } from 'vitest';
import { daysFromToday } from '@bursar/test-support';
import { createTestApi } from '../testing/harness.js';

const errorPaths = (body: { errors?: { path: string }[] }) =>
  (body.errors ?? []).map((error) => error.path).sort();
const names = (body: { data: { firstName: string; lastName: string }[] }) =>
  body.data.map((student) => `${student.firstName} ${student.lastName}`);

describe('students', async () => {
  const api = await createTestApi();
  const schoolA = await api.createSchool({ name: 'School A' });
  const schoolB = await api.createSchool({ name: 'School B' });
  const adminA = await api.callerFor('school_admin', schoolA);
  const adminB = await api.callerFor('school_admin', schoolB);
  const classA = (
    await api.request(adminA, 'POST', '/api/classes', {
      body: { name: 'Grade 1', grade: '1', section: 'A', academicYear: '2026-27' },
    })
  ).body.id as string;
  const classB = (
    await api.request(adminB, 'POST', '/api/classes', {
      body: { name: 'Grade 1', grade: '1', section: 'A', academicYear: '2026-27' },
    })
  ).body.id as string;
  let sequence = 0;
  const newStudent = (overrides: Record<string, unknown> = {}) => ({
    firstName: 'Ravi',
    lastName: 'Kumar',
    admissionNo: `A-${(sequence += 1)}`,
    classId: classA,
    ...overrides,
  });

  it('creates, reads, updates and deletes a student, auditing each write', async () => {
    const created = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ admissionNo: 'CRUD-1' }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schoolId: schoolA,
      classId: classA,
      firstName: 'Ravi',
      lastName: 'Kumar',
      admissionNo: 'CRUD-1',
      status: 'active',
      creditMinor: 0,
    });
    const id = created.body.id as string;

    const read = await api.request(adminA, 'GET', `/api/students/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ ...created.body, guardians: [] });

    const updated = await api.request(adminA, 'PATCH', `/api/students/${id}`, {
      body: { lastName: 'Verma', classId: null },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, lastName: 'Verma', classId: null, admissionNo: 'CRUD-1' });

    expect((await api.request(adminA, 'DELETE', `/api/students/${id}`)).status).toBe(204);
    expect((await api.request(adminA, 'GET', `/api/students/${id}`)).status).toBe(404);

    const audits = await api.db
      .selectFrom('auditLog')
      .select(['action', 'before', 'after', 'schoolId'])
      .where('entityType', '=', 'student')
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audits.map((a) => a.action)).toEqual(['student.create', 'student.update', 'student.delete']);
    expect(audits[1]!.before).toMatchObject({ lastName: 'Kumar', classId: classA });
    expect(audits[1]!.after).toMatchObject({ lastName: 'Verma', classId: null });
    expect(audits.every((a) => a.schoolId === schoolA)).toBe(true);
  });

  it('returns the ledger credit as a number', async () => {
    const created = await api.request(adminA, 'POST', '/api/students', { body: newStudent() });
    await api.db
      .updateTable('students')
      .set({ creditMinor: 123_456n })
      .where('id', '=', created.body.id)
      .execute();
    const read = await api.request(adminA, 'GET', `/api/students/${created.body.id}`);
    expect(read.body.creditMinor).toBe(123_456);
    const patched = await api.request(adminA, 'PATCH', `/api/students/${created.body.id}`, {
      body: { creditMinor: 0 },
    });
    expect(patched.status).toBe(422);
    expect(errorPaths(patched.body)).toEqual(['body.creditMinor']);
  });

  it('refuses a duplicate admission number in the same school (409) but not in another', async () => {
    expect(
      (await api.request(adminA, 'POST', '/api/students', { body: newStudent({ admissionNo: 'DUP-1' }) }))
        .status,
    ).toBe(201);
    const duplicate = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ admissionNo: 'DUP-1' }),
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.detail).toMatch(/admission number/);
    const elsewhere = await api.request(adminB, 'POST', '/api/students', {
      body: newStudent({ admissionNo: 'DUP-1', classId: classB }),
    });
    expect(elsewhere.status).toBe(201);
    const other = await api.request(adminA, 'POST', '/api/students', { body: newStudent() });
    const clash = await api.request(adminA, 'PATCH', `/api/students/${other.body.id}`, {
      body: { admissionNo: 'DUP-1' },
    });
    expect(clash.status).toBe(409);
  });

  it('refuses a class of another school (or no such class) with 422 on body.classId', async () => {
    const foreign = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ classId: classB }),
    });
    expect(foreign.status).toBe(422);
    expect(errorPaths(foreign.body)).toEqual(['body.classId']);
    const missing = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ classId: '00000000-0000-4000-8000-000000000000' }),
    });
    expect(missing.status).toBe(422);
    const created = await api.request(adminA, 'POST', '/api/students', { body: newStudent() });
    const moved = await api.request(adminA, 'PATCH', `/api/students/${created.body.id}`, {
      body: { classId: classB },
    });
    expect(moved.status).toBe(422);
    expect(errorPaths(moved.body)).toEqual(['body.classId']);
  });

  it('validates: unknown fields, schoolId from staff, bad status, malformed ids', async () => {
    const response = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ totalMinor: 100, schoolId: schoolB, status: 'expelled', firstName: '' }),
    });
    expect(response.status).toBe(422);
    expect(errorPaths(response.body)).toEqual(['body.firstName', 'body.status', 'body.totalMinor']);
    const schoolIdOnly = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ schoolId: schoolA }),
    });
    expect(schoolIdOnly.status).toBe(422);
    expect(errorPaths(schoolIdOnly.body)).toEqual(['body.schoolId']);
    expect((await api.request(adminA, 'GET', '/api/students/abc')).status).toBe(422);
    // PostgreSQL refuses NUL in text: it must be a 422 here, never a 500 from the database.
    const nul = await api.request(adminA, 'POST', '/api/students', {
      body: newStudent({ lastName: 'Ku\u0000mar' }),
    });
    expect(nul.status).toBe(422);
    expect(errorPaths(nul.body)).toEqual(['body.lastName']);
    expect((await api.request(adminA, 'GET', '/api/students?q=%00')).status).toBe(422);
    expect((await api.request(adminA, 'DELETE', "/api/students/1' or 1=1")).status).toBe(422);
    const platform = await api.request(api.admin, 'POST', '/api/students', {
      body: newStudent({ schoolId: schoolA }),
    });
    expect(platform.status).toBe(201);
    expect(platform.body.schoolId).toBe(schoolA);
  });

  it('lets a teacher read students but not create, update or delete them (403)', async () => {
    const teacher = await api.callerFor('teacher', schoolA);
    const created = await api.request(adminA, 'POST', '/api/students', { body: newStudent() });
    expect((await api.request(teacher, 'POST', '/api/students', { body: newStudent() })).status).toBe(403);
    expect(
      (await api.request(teacher, 'PATCH', `/api/students/${created.body.id}`, { body: { firstName: 'X' } }))
        .status,
    ).toBe(403);
    expect((await api.request(teacher, 'DELETE', `/api/students/${created.body.id}`)).status).toBe(403);
    expect((await api.request(teacher, 'GET', `/api/students/${created.body.id}`)).status).toBe(200);
    expect((await api.request(teacher, 'GET', '/api/students')).status).toBe(200);
  });

  it("hides another school's students: 404 for read, update and delete; lists only own rows", async () => {
    const created = await api.request(adminA, 'POST', '/api/students', { body: newStudent() });
    const id = created.body.id as string;
    expect((await api.request(adminB, 'GET', `/api/students/${id}`)).status).toBe(404);
    expect(
      (await api.request(adminB, 'PATCH', `/api/students/${id}`, { body: { status: 'left' } })).status,
    ).toBe(404);
    expect((await api.request(adminB, 'DELETE', `/api/students/${id}`)).status).toBe(404);
    expect((await api.request(adminA, 'GET', `/api/students/${id}`)).body.status).toBe('active');

    const listB = await api.request(adminB, 'GET', `/api/students?limit=200&schoolId=${schoolA}`);
    expect(listB.status).toBe(200);
    expect(listB.body.data.length).toBeGreaterThan(0);
    expect(listB.body.data.every((s: { schoolId: string }) => s.schoolId === schoolB)).toBe(true);
    expect(listB.body.data.map((s: { id: string }) => s.id)).not.toContain(id);
  });

  it('filters by class, status and search text (wildcards are literal), sorts, and counts in SQL', async () => {
    const school = await api.createSchool();
    const admin = await api.callerFor('school_admin', school);
    const klass = (
      await api.request(admin, 'POST', '/api/classes', {
        body: { name: 'K', grade: 'K', academicYear: '2026-27' },
      })
    ).body.id as string;
    const rows = [
      ['Anaya', 'Sharma', 'GW-003', klass, 'active'],
      ['Kabir', 'Patel', 'GW-001', klass, 'active'],
      ['Diya', 'Iyer', 'GW-002', null, 'active'],
      ['Ira', 'Khan', '100%_X', null, 'left'],
    ] as const;
    for (const [firstName, lastName, admissionNo, classId, status] of rows) {
      const response = await api.request(admin, 'POST', '/api/students', {
        body: { firstName, lastName, admissionNo, classId, status },
      });
      expect(response.status).toBe(201);
    }
    const all = await api.request(admin, 'GET', '/api/students');
    expect(names(all.body)).toEqual(['Diya Iyer', 'Ira Khan', 'Kabir Patel', 'Anaya Sharma']);
    expect(all.body.pagination).toEqual({ limit: 50, offset: 0, total: 4 });

    const inClass = await api.request(admin, 'GET', `/api/students?classId=${klass}&sort=admissionNo`);
    expect(names(inClass.body)).toEqual(['Kabir Patel', 'Anaya Sharma']);
    const left = await api.request(admin, 'GET', '/api/students?status=left');
    expect(names(left.body)).toEqual(['Ira Khan']);
    const newest = await api.request(admin, 'GET', '/api/students?sort=-createdAt&limit=1');
    expect(names(newest.body)).toEqual(['Ira Khan']);
    expect(newest.body.pagination.total).toBe(4);

    expect(names((await api.request(admin, 'GET', '/api/students?q=SHAR')).body)).toEqual(['Anaya Sharma']);
    expect(names((await api.request(admin, 'GET', '/api/students?q=kabir%20patel')).body)).toEqual([
      'Kabir Patel',
    ]);
    expect(names((await api.request(admin, 'GET', '/api/students?q=gw-00')).body)).toHaveLength(3);
    // `%` and `_` are literal characters, not wildcards.
    expect(names((await api.request(admin, 'GET', '/api/students?q=%25')).body)).toEqual(['Ira Khan']);
    expect(names((await api.request(admin, 'GET', '/api/students?q=_')).body)).toEqual(['Ira Khan']);

    const bad = await api.request(admin, 'GET', '/api/students?sort=creditMinor&limit=0&status=gone');
    expect(bad.status).toBe(422);
    expect(errorPaths(bad.body)).toEqual(['query.limit', 'query.sort', 'query.status']);
  });

  it("refuses to delete a student with invoices (409, suggesting status 'left')", async () => {
    const created = await api.request(adminA, 'POST', '/api/students', { body: newStudent() });
    await api.db
      .insertInto('invoices')
      .values({
        schoolId: schoolA,
        studentId: created.body.id,
        number: `INV-${created.body.admissionNo}`,
        currency: 'INR',
        issueDate: daysFromToday(-180),
        dueDate: daysFromToday(-150),
        totalMinor: 50_000n,
        voidedAt: new Date(),
        voidReason: 'issued in error',
      })
      .execute();
    const response = await api.request(adminA, 'DELETE', `/api/students/${created.body.id}`);
    expect(response.status).toBe(409);
    expect(response.body.detail).toContain("'left'");
    const left = await api.request(adminA, 'PATCH', `/api/students/${created.body.id}`, {
      body: { status: 'left' },
    });
    expect(left.body.status).toBe('left');
  });
});
