import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { daysFromToday } from '@bursar/test-support';
import { STAFF_PASSWORD, createTestApi } from '../testing/harness.js';

const errorPaths = (body: { errors?: { path: string }[] }) =>
  (body.errors ?? []).map((error) => error.path).sort();

describe('schools', async () => {
  const api = await createTestApi();
  const newSchool = {
    name: 'Riverside Academy',
    currency: 'USD',
    timezone: 'America/New_York',
    locale: 'en-us',
    address: '1 River Road',
    contactEmail: 'office@riverside.example',
    contactPhone: '+1 (202) 555-0143',
  };

  async function addStudent(schoolId: string, status: 'active' | 'left' = 'active') {
    return api.db
      .insertInto('students')
      .values({
        schoolId,
        firstName: 'Test',
        lastName: 'Student',
        admissionNo: randomUUID().slice(0, 8),
        status,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
  }

  it('lets a platform admin create a school, normalising locale and phone, and audits it', async () => {
    const response = await api.request(api.admin, 'POST', '/api/schools', { body: newSchool });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      name: 'Riverside Academy',
      currency: 'USD',
      timezone: 'America/New_York',
      locale: 'en-US',
      contactPhone: '+12025550143',
      address: '1 River Road',
    });
    const audit = await api.db
      .selectFrom('auditLog')
      .selectAll()
      .where('entityType', '=', 'school')
      .where('entityId', '=', response.body.id)
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'school.create',
      actorId: api.admin.userId,
      schoolId: response.body.id,
    });
    expect(audit[0]!.after).toMatchObject({ name: 'Riverside Academy', currency: 'USD' });
  });

  it('refuses bad currency, time zone, locale and unknown fields with one 422 entry per field', async () => {
    const response = await api.request(api.admin, 'POST', '/api/schools', {
      body: {
        ...newSchool,
        currency: 'XYZ',
        timezone: 'Mars/Olympus',
        locale: 'en_US',
        role: 'platform_admin',
      },
    });
    expect(response.status).toBe(422);
    expect(errorPaths(response.body)).toEqual(['body.currency', 'body.locale', 'body.role', 'body.timezone']);
    const offset = await api.request(api.admin, 'POST', '/api/schools', {
      body: { ...newSchool, timezone: '+05:30' },
    });
    expect(offset.status).toBe(422);
    const phone = await api.request(api.admin, 'POST', '/api/schools', {
      body: { ...newSchool, contactPhone: '+1 000' },
    });
    expect(phone.status).toBe(422);
    expect(errorPaths(phone.body)).toEqual(['body.contactPhone']);
  });

  it('lets only platform admins create and delete schools', async () => {
    const principal = await api.callerFor('school_admin', api.demoSchoolId);
    expect((await api.request(principal, 'POST', '/api/schools', { body: newSchool })).status).toBe(403);
    const empty = await api.createSchool();
    expect((await api.request(principal, 'DELETE', `/api/schools/${empty}`)).status).toBe(403);
    expect((await api.request(null, 'GET', '/api/schools')).status).toBe(401);
  });

  it('shows a school with its count of active students only', async () => {
    const schoolId = await api.createSchool();
    await addStudent(schoolId);
    await addStudent(schoolId);
    await addStudent(schoolId, 'left');
    const response = await api.request(api.admin, 'GET', `/api/schools/${schoolId}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: schoolId, studentsCount: 2 });
    const teacher = await api.callerFor('teacher', schoolId);
    expect((await api.request(teacher, 'GET', `/api/schools/${schoolId}`)).body.studentsCount).toBe(2);
  });

  it('lists every school for a platform admin and only their own for staff', async () => {
    const other = await api.createSchool({ name: 'Zeta Listing School' });
    const all = await api.request(api.admin, 'GET', '/api/schools?limit=200');
    expect(all.status).toBe(200);
    expect(all.body.pagination.total).toBe(all.body.data.length);
    expect(all.body.data.map((s: { id: string }) => s.id)).toEqual(
      expect.arrayContaining([api.demoSchoolId, other]),
    );

    const staff = await api.callerFor('accountant', other);
    const own = await api.request(staff, 'GET', '/api/schools');
    expect(own.body).toEqual({
      data: [expect.objectContaining({ id: other, name: 'Zeta Listing School' })],
      pagination: { limit: 50, offset: 0, total: 1 },
    });
    // Another school's id: 404, not 403, so ids do not leak.
    expect((await api.request(staff, 'GET', `/api/schools/${api.demoSchoolId}`)).status).toBe(404);

    const searched = await api.request(api.admin, 'GET', '/api/schools?q=zeta%20listing');
    expect(searched.body.data.map((s: { id: string }) => s.id)).toEqual([other]);
    const sorted = await api.request(api.admin, 'GET', '/api/schools?sort=-name&limit=2');
    expect(sorted.body.data[0].name >= sorted.body.data[1].name).toBe(true);
  });

  it('validates list queries: limit above 200, unknown sort and unknown parameters are 422', async () => {
    const response = await api.request(api.admin, 'GET', '/api/schools?limit=201&sort=password&foo=1');
    expect(response.status).toBe(422);
    expect(errorPaths(response.body)).toEqual(['query.foo', 'query.limit', 'query.sort']);
    expect((await api.request(api.admin, 'GET', '/api/schools/not-a-uuid')).status).toBe(422);
  });

  it('lets a school admin edit their own school, audited with before and after, but not another', async () => {
    const schoolId = await api.createSchool({ name: 'Before Name' });
    const principal = await api.callerFor('school_admin', schoolId);
    const response = await api.request(principal, 'PATCH', `/api/schools/${schoolId}`, {
      body: { name: 'After Name', timezone: 'Asia/Dubai', address: null },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ name: 'After Name', timezone: 'Asia/Dubai', address: null });
    const audit = await api.db
      .selectFrom('auditLog')
      .selectAll()
      .where('action', '=', 'school.update')
      .where('entityId', '=', schoolId)
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ actorId: principal.userId, actorRole: 'school_admin', schoolId });
    expect(audit.before).toMatchObject({ name: 'Before Name' });
    expect(audit.after).toMatchObject({ name: 'After Name' });

    expect(
      (await api.request(principal, 'PATCH', `/api/schools/${api.demoSchoolId}`, { body: { name: 'x' } }))
        .status,
    ).toBe(404);
    expect((await api.request(principal, 'PATCH', `/api/schools/${schoolId}`, { body: {} })).status).toBe(
      422,
    );
    const teacher = await api.callerFor('teacher', schoolId);
    expect(
      (await api.request(teacher, 'PATCH', `/api/schools/${schoolId}`, { body: { name: 'x' } })).status,
    ).toBe(403);
  });

  it('refuses to change the currency once the school has invoices (409), but allows it before', async () => {
    const schoolId = await api.createSchool({ currency: 'INR' });
    const principal = await api.callerFor('school_admin', schoolId);
    const before = await api.request(principal, 'PATCH', `/api/schools/${schoolId}`, {
      body: { currency: 'MXN' },
    });
    expect(before.status).toBe(200);
    expect(before.body.currency).toBe('MXN');

    const student = await addStudent(schoolId);
    await api.db
      .insertInto('invoices')
      .values({
        schoolId,
        studentId: student.id,
        number: 'INV-1',
        currency: 'MXN',
        issueDate: daysFromToday(-180),
        dueDate: daysFromToday(-150),
        totalMinor: 10_000n,
      })
      .execute();
    const after = await api.request(principal, 'PATCH', `/api/schools/${schoolId}`, {
      body: { currency: 'USD' },
    });
    expect(after.status).toBe(409);
    expect(after.body.code).toBe('conflict');
    // Sending the same currency is not a change.
    expect(
      (
        await api.request(principal, 'PATCH', `/api/schools/${schoolId}`, {
          body: { currency: 'MXN', name: 'Same' },
        })
      ).status,
    ).toBe(200);
  });

  it('soft-deletes an empty school: 404 afterwards, gone from lists, its staff disabled', async () => {
    const schoolId = await api.createSchool();
    const teacher = await api.callerFor('teacher', schoolId);
    const response = await api.request(api.admin, 'DELETE', `/api/schools/${schoolId}`);
    expect(response.status).toBe(204);
    const row = await api.db
      .selectFrom('schools')
      .select('deletedAt')
      .where('id', '=', schoolId)
      .executeTakeFirstOrThrow();
    expect(row.deletedAt).toBeInstanceOf(Date);
    expect((await api.request(api.admin, 'GET', `/api/schools/${schoolId}`)).status).toBe(404);
    expect(
      (await api.request(api.admin, 'PATCH', `/api/schools/${schoolId}`, { body: { name: 'x' } })).status,
    ).toBe(404);
    expect((await api.request(api.admin, 'DELETE', `/api/schools/${schoolId}`)).status).toBe(404);
    const list = await api.request(api.admin, 'GET', '/api/schools?limit=200');
    expect(list.body.data.map((s: { id: string }) => s.id)).not.toContain(schoolId);

    const email = await api.db
      .selectFrom('users')
      .select(['email', 'status'])
      .where('id', '=', teacher.userId)
      .executeTakeFirstOrThrow();
    expect(email.status).toBe('disabled');
    expect(
      (
        await api.request(null, 'POST', '/api/auth/login', {
          body: { email: email.email, password: STAFF_PASSWORD },
        })
      ).status,
    ).toBe(401);
    const audit = await api.db
      .selectFrom('auditLog')
      .selectAll()
      .where('action', '=', 'school.delete')
      .where('entityId', '=', schoolId)
      .executeTakeFirstOrThrow();
    expect(audit.after).toMatchObject({ deleted: true, disabledUserIds: [teacher.userId] });
  });

  it('refuses to delete a school that has students (409)', async () => {
    const schoolId = await api.createSchool();
    await addStudent(schoolId, 'left');
    const response = await api.request(api.admin, 'DELETE', `/api/schools/${schoolId}`);
    expect(response.status).toBe(409);
    expect((await api.request(api.admin, 'GET', `/api/schools/${schoolId}`)).status).toBe(200);
  });
});
