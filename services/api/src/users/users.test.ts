import { describe, expect, it } from 'vitest';
import { createTestApi } from '../testing/harness.js';

const errorPaths = (body: { errors?: { path: string }[] }) =>
  (body.errors ?? []).map((error) => error.path).sort();

describe('staff users', async () => {
  const api = await createTestApi();
  const schoolA = await api.createSchool({ name: 'School A' });
  const schoolB = await api.createSchool({ name: 'School B' });
  const adminA = await api.callerFor('school_admin', schoolA);
  const adminB = await api.callerFor('school_admin', schoolB);
  let sequence = 0;
  const newUser = (overrides: Record<string, unknown> = {}) => ({
    email: `staff-${(sequence += 1)}@school-a.example`,
    name: 'Asha Rao',
    role: 'accountant',
    password: 'correct-horse-1',
    ...overrides,
  });

  it('lets a school admin create staff who can log in; the hash is never returned; audited', async () => {
    const body = newUser({ email: 'Asha.Rao@School-A.example' });
    const response = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, { body });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.any(String),
      schoolId: schoolA,
      email: 'asha.rao@school-a.example',
      name: 'Asha Rao',
      role: 'accountant',
      status: 'active',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(JSON.stringify(response.body)).not.toMatch(/argon2|password/i);
    const tokens = await api.login('asha.rao@school-a.example', 'correct-horse-1');
    expect(tokens.accessToken).toBeTruthy();

    const audit = await api.db
      .selectFrom('auditLog')
      .selectAll()
      .where('entityType', '=', 'user')
      .where('entityId', '=', response.body.id)
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ action: 'user.create', actorId: adminA.userId, schoolId: schoolA });
    expect(JSON.stringify(audit.after)).not.toMatch(/argon2|passwordHash/);
  });

  it('refuses a duplicate email, whatever its case, with 409', async () => {
    const first = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, {
      body: newUser({ email: 'dup@school.example' }),
    });
    expect(first.status).toBe(201);
    const second = await api.request(adminB, 'POST', `/api/schools/${schoolB}/users`, {
      body: newUser({ email: 'DUP@School.example' }),
    });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('conflict');
  });

  it('validates: no platform_admin role, a 10-character password, no unknown fields', async () => {
    const response = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, {
      body: newUser({ role: 'platform_admin', password: 'short', schoolId: schoolB }),
    });
    expect(response.status).toBe(422);
    expect(errorPaths(response.body)).toEqual(['body.password', 'body.role', 'body.schoolId']);
    const badId = await api.request(adminA, 'GET', `/api/schools/${schoolA}/users/nope`);
    expect(badId.status).toBe(422);
    expect(errorPaths(badId.body)).toEqual(['params.userId']);
  });

  it("hides another school's users: 404 for create, list, read and update", async () => {
    const created = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, { body: newUser() });
    const userId = created.body.id as string;
    expect(
      (await api.request(adminB, 'POST', `/api/schools/${schoolA}/users`, { body: newUser() })).status,
    ).toBe(404);
    expect((await api.request(adminB, 'GET', `/api/schools/${schoolA}/users`)).status).toBe(404);
    expect((await api.request(adminB, 'GET', `/api/schools/${schoolA}/users/${userId}`)).status).toBe(404);
    expect(
      (
        await api.request(adminB, 'PATCH', `/api/schools/${schoolA}/users/${userId}`, {
          body: { name: 'Hijacked' },
        })
      ).status,
    ).toBe(404);
    // Nor through their own school's path.
    expect(
      (
        await api.request(adminB, 'PATCH', `/api/schools/${schoolB}/users/${userId}`, {
          body: { name: 'Hijacked' },
        })
      ).status,
    ).toBe(404);
    const row = await api.db
      .selectFrom('users')
      .select('name')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe('Asha Rao');
  });

  it('lets only admins manage users (accountant and teacher get 403)', async () => {
    const accountant = await api.callerFor('accountant', schoolA);
    const teacher = await api.callerFor('teacher', schoolA);
    expect((await api.request(accountant, 'GET', `/api/schools/${schoolA}/users`)).status).toBe(403);
    expect(
      (await api.request(teacher, 'POST', `/api/schools/${schoolA}/users`, { body: newUser() })).status,
    ).toBe(403);
  });

  it('lists only staff of the school, with filters, sort and SQL totals', async () => {
    const school = await api.createSchool();
    const admin = await api.callerFor('school_admin', school);
    for (const [name, role] of [
      ['Zoe Teacher', 'teacher'],
      ['Amit Teacher', 'teacher'],
      ['Bela Accounts', 'accountant'],
    ] as const) {
      await api.request(admin, 'POST', `/api/schools/${school}/users`, { body: newUser({ name, role }) });
    }
    const teachers = await api.request(admin, 'GET', `/api/schools/${school}/users?role=teacher&sort=name`);
    expect(teachers.status).toBe(200);
    expect(teachers.body.data.map((u: { name: string }) => u.name)).toEqual(['Amit Teacher', 'Zoe Teacher']);
    expect(teachers.body.pagination).toEqual({ limit: 50, offset: 0, total: 2 });
    const page = await api.request(admin, 'GET', `/api/schools/${school}/users?limit=1&offset=1&sort=-name`);
    expect(page.body.pagination.total).toBe(4);
    expect(page.body.data.map((u: { name: string }) => u.name)).toEqual(['Test school_admin']);
    const searched = await api.request(admin, 'GET', `/api/schools/${school}/users?q=bela`);
    expect(searched.body.data.map((u: { name: string }) => u.name)).toEqual(['Bela Accounts']);
    expect((await api.request(admin, 'GET', `/api/schools/${school}/users?sort=passwordHash`)).status).toBe(
      422,
    );
    // A platform admin reads any school's staff.
    expect((await api.request(api.admin, 'GET', `/api/schools/${school}/users`)).body.pagination.total).toBe(
      4,
    );
  });

  it('updates name and role; disabling signs the user out and blocks login', async () => {
    const created = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, { body: newUser() });
    const { id, email } = created.body as { id: string; email: string };
    const session = await api.login(email, 'correct-horse-1');

    const renamed = await api.request(adminA, 'PATCH', `/api/schools/${schoolA}/users/${id}`, {
      body: { name: 'Asha R.', role: 'teacher' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Asha R.', role: 'teacher', status: 'active' });

    const disabled = await api.request(adminA, 'PATCH', `/api/schools/${schoolA}/users/${id}`, {
      body: { status: 'disabled' },
    });
    expect(disabled.body.status).toBe('disabled');
    expect(
      (await api.request(null, 'POST', '/api/auth/login', { body: { email, password: 'correct-horse-1' } }))
        .status,
    ).toBe(401);
    expect(
      (await api.request(null, 'POST', '/api/auth/refresh', { body: { refreshToken: session.refreshToken } }))
        .status,
    ).toBe(401);

    const audits = await api.db
      .selectFrom('auditLog')
      .select(['action', 'before', 'after'])
      .where('entityId', '=', id)
      .orderBy('id')
      .execute();
    expect(audits.map((a) => a.action)).toEqual(['user.create', 'user.update', 'user.update']);
    expect(audits[2]!.before).toMatchObject({ status: 'active' });
    expect(audits[2]!.after).toMatchObject({ status: 'disabled' });
  });

  it('changes a password: the new one works, the old one and old sessions do not', async () => {
    const created = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, { body: newUser() });
    const { id, email } = created.body as { id: string; email: string };
    const session = await api.login(email, 'correct-horse-1');
    const response = await api.request(adminA, 'PATCH', `/api/schools/${schoolA}/users/${id}`, {
      body: { password: 'battery-staple-2' },
    });
    expect(response.status).toBe(200);
    expect((await api.login(email, 'battery-staple-2')).accessToken).toBeTruthy();
    expect(
      (await api.request(null, 'POST', '/api/auth/login', { body: { email, password: 'correct-horse-1' } }))
        .status,
    ).toBe(401);
    expect(
      (await api.request(null, 'POST', '/api/auth/refresh', { body: { refreshToken: session.refreshToken } }))
        .status,
    ).toBe(401);
    const audit = await api.db
      .selectFrom('auditLog')
      .select('after')
      .where('entityId', '=', id)
      .where('action', '=', 'user.update')
      .executeTakeFirstOrThrow();
    expect(audit.after).toMatchObject({ passwordChanged: true });
    expect(JSON.stringify(audit.after)).not.toContain('battery-staple-2');
  });

  it('refuses PATCH of unknown fields (email) and of your own role or status', async () => {
    const created = await api.request(adminA, 'POST', `/api/schools/${schoolA}/users`, { body: newUser() });
    const email = await api.request(adminA, 'PATCH', `/api/schools/${schoolA}/users/${created.body.id}`, {
      body: { email: 'new@school.example' },
    });
    expect(email.status).toBe(422);
    expect(errorPaths(email.body)).toEqual(['body.email']);
    const self = await api.request(adminA, 'PATCH', `/api/schools/${schoolA}/users/${adminA.userId}`, {
      body: { role: 'teacher' },
    });
    expect(self.status).toBe(403);
    const rename = await api.request(adminA, 'PATCH', `/api/schools/${schoolA}/users/${adminA.userId}`, {
      body: { name: 'Principal A' },
    });
    expect(rename.status).toBe(200);
  });
});
