import { describe, expect, it } from 'vitest';
import { STAFF_PASSWORD, createTestApi } from '../testing/harness.js';
import { LOGIN_LIMITS } from './rate-limit.js';

/**
 * What the security probe found about logins and access: the limiter must
 * count before it checks, must not lock out the innocent, and a user's
 * disabling or demotion must take effect on their next request.
 */
describe('login limits and live access', async () => {
  const api = await createTestApi();
  const schoolId = await api.createSchool();

  const login = (email: string, password: string, ip: string) =>
    api.request(null, 'POST', '/api/auth/login', {
      body: { email, password },
      // The harness talks to the app over loopback, the proxy it trusts, as Caddy would.
      headers: { 'x-forwarded-for': ip },
    });
  const emailOf = async (userId: string) =>
    (await api.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow())
      .email;

  it('checks at most 10 passwords of 40 sent in parallel for one email from one address', async () => {
    const victim = await api.callerFor('accountant', schoolId);
    const email = await emailOf(victim.userId);
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => login(email, 'wrong-password', '203.0.113.10')),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(LOGIN_LIMITS.perEmailAndAddress);
    expect(statuses.filter((status) => status === 429)).toHaveLength(40 - LOGIN_LIMITS.perEmailAndAddress);
    const limited = answers.find((answer) => answer.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right password is refused from that address for now…
    expect((await login(email, STAFF_PASSWORD, '203.0.113.10')).status).toBe(429);
  });

  it("does not lock the real user out from their own address after someone else's failures", async () => {
    const bursar = await api.callerFor('accountant', schoolId);
    const email = await emailOf(bursar.userId);
    for (let i = 0; i < LOGIN_LIMITS.perEmailAndAddress + 5; i += 1) {
      await login(email, 'attacker-guess', '198.51.100.66');
    }
    expect((await login(email, 'attacker-guess', '198.51.100.66')).status).toBe(429);
    expect((await login(email, STAFF_PASSWORD, '192.0.2.44')).status).toBe(200);
  });

  it('lets the honest people behind one office address log in after many failures from it', async () => {
    const office = '192.0.2.200';
    // Twelve people at one school office mistype five times each: 60 failures, past the old 50-per-address wall.
    const typists = await Promise.all(Array.from({ length: 12 }, () => api.callerFor('teacher', schoolId)));
    for (const typist of typists) {
      const email = await emailOf(typist.userId);
      for (let i = 0; i < 5; i += 1) expect((await login(email, 'typo-typo', office)).status).toBe(401);
    }
    const colleague = await api.callerFor('accountant', schoolId);
    expect((await login(await emailOf(colleague.userId), STAFF_PASSWORD, office)).status).toBe(200);
  });

  it("ends a disabled user's access on their next request, not when the token expires", async () => {
    const admin = await api.callerFor('school_admin', schoolId);
    const accountant = await api.callerFor('accountant', schoolId);
    expect((await api.request(accountant, 'GET', '/api/invoices')).status).toBe(200);
    const disabled = await api.request(
      admin,
      'PATCH',
      `/api/schools/${schoolId}/users/${accountant.userId}`,
      {
        body: { status: 'disabled' },
      },
    );
    expect(disabled.status).toBe(200);
    expect((await api.request(accountant, 'GET', '/api/invoices')).status).toBe(401);
    expect((await api.request(accountant, 'GET', '/api/me')).status).toBe(401);
  });

  it('gives a demoted school admin 403 where the new role may not go, at once', async () => {
    const principal = await api.callerFor('school_admin', schoolId);
    const deputy = await api.callerFor('school_admin', schoolId);
    const newUser = (tag: string) => ({
      email: `made-by-deputy-${tag}-${Date.now()}@bursar.test`,
      name: 'New admin',
      role: 'school_admin',
      password: 'a-long-password-1',
    });
    expect(
      (await api.request(deputy, 'POST', `/api/schools/${schoolId}/users`, { body: newUser('before') }))
        .status,
    ).toBe(201);
    const demoted = await api.request(principal, 'PATCH', `/api/schools/${schoolId}/users/${deputy.userId}`, {
      body: { role: 'teacher' },
    });
    expect(demoted.status).toBe(200);
    const refused = await api.request(deputy, 'POST', `/api/schools/${schoolId}/users`, {
      body: newUser('after'),
    });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('teacher');
    // Still logged in, with what the new role may do.
    expect((await api.request(deputy, 'GET', '/api/students')).status).toBe(200);
  });

  it('applies a change made outside the api (a hand-run UPDATE) once the database announces it', async () => {
    const teacher = await api.callerFor('teacher', schoolId);
    expect((await api.request(teacher, 'GET', '/api/students')).status).toBe(200);
    await api.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', teacher.userId).execute();
    await expect
      .poll(async () => (await api.request(teacher, 'GET', '/api/students')).status, { timeout: 5_000 })
      .toBe(401);
  });

  it('accepts the Bearer scheme in any case', async () => {
    const teacher = await api.callerFor('teacher', schoolId);
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const answer = await api.request(null, 'GET', '/api/me', {
        headers: { authorization: `${scheme} ${teacher.token}` },
      });
      expect(answer.status, scheme).toBe(200);
    }
    const basic = await api.request(null, 'GET', '/api/me', {
      headers: { authorization: `Basic ${teacher.token}` },
    });
    expect(basic.status).toBe(401);
  });
});
