import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { JWT_AUDIENCE, JWT_ISSUER, type TokenResponse } from '@bursar/contracts';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApi } from '../testing/harness.js';

describe('auth', async () => {
  const api = await createTestApi();

  it('logs in with email and password and returns a 15-minute EdDSA token with role and school', async () => {
    const response = await api.request<TokenResponse>(null, 'POST', '/api/auth/login', {
      body: { email: ADMIN_EMAIL.toUpperCase(), password: ADMIN_PASSWORD },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    const jwks = (await api.request(null, 'GET', '/api/.well-known/jwks.json')).body;
    const { payload } = await jwtVerify(response.body.accessToken, createLocalJWKSet(jwks), {
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
    });
    expect(decodeProtectedHeader(response.body.accessToken).alg).toBe('EdDSA');
    expect(payload).toMatchObject({ sub: api.admin.userId, role: 'platform_admin', schoolId: null });
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('refuses a wrong password and an unknown email with the same 401', async () => {
    const wrong = await api.request(null, 'POST', '/api/auth/login', {
      body: { email: ADMIN_EMAIL, password: 'nope-nope' },
    });
    const unknown = await api.request(null, 'POST', '/api/auth/login', {
      body: { email: 'ghost@bursar.test', password: 'nope-nope' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.detail).toBe(unknown.body.detail);
  });

  it('answers /api/me from the user cache, and shows a change at once or as soon as it is announced', async () => {
    const schoolId = await api.createSchool({ name: 'Me School' });
    const accountant = await api.callerFor('accountant', schoolId);
    const me = async () => (await api.request(accountant, 'GET', '/api/me')).body;
    expect(await me()).toMatchObject({ id: accountant.userId, role: 'accountant', schoolId });
    // Changed through the api: that process forgets the user after the commit.
    const renamed = await api.request(
      api.admin,
      'PATCH',
      `/api/schools/${schoolId}/users/${accountant.userId}`,
      {
        body: { name: 'Renamed Through The Api', role: 'teacher' },
      },
    );
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(await me()).toMatchObject({ name: 'Renamed Through The Api', role: 'teacher' });
    // Changed by hand: the trigger's announcement makes every process forget the user.
    await sql`update users set name = 'Renamed By Hand', email = 'by-hand@school.test' where id = ${accountant.userId}`.execute(
      api.db,
    );
    const deadline = Date.now() + 10_000;
    let seen = await me();
    while (seen.name !== 'Renamed By Hand' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await me();
    }
    expect(seen).toMatchObject({ name: 'Renamed By Hand', email: 'by-hand@school.test' });
  });

  it('answers /api/me for a valid token and 401 without one or with a forged one', async () => {
    const me = await api.request(api.admin, 'GET', '/api/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: api.admin.userId, email: ADMIN_EMAIL, role: 'platform_admin' });
    expect((await api.request(null, 'GET', '/api/me')).status).toBe(401);
    const [header, payload] = api.admin.token.split('.');
    const forged = { ...api.admin, token: `${header}.${payload}.${'A'.repeat(86)}` };
    expect((await api.request(forged, 'GET', '/api/me')).status).toBe(401);
  });

  it('rotates refresh tokens, and reusing a spent one revokes the whole family', async () => {
    const first = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const second = await api.request<TokenResponse>(null, 'POST', '/api/auth/refresh', {
      body: { refreshToken: first.refreshToken },
    });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);

    const replay = await api.request(null, 'POST', '/api/auth/refresh', {
      body: { refreshToken: first.refreshToken },
    });
    expect(replay.status).toBe(401);
    // The thief's replay also signed out the legitimate holder of the newer token.
    const afterReplay = await api.request(null, 'POST', '/api/auth/refresh', {
      body: { refreshToken: second.body.refreshToken },
    });
    expect(afterReplay.status).toBe(401);
  });

  it('logs out by revoking the refresh token family; logging out twice is fine', async () => {
    const tokens = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    expect(
      (await api.request(null, 'POST', '/api/auth/logout', { body: { refreshToken: tokens.refreshToken } }))
        .status,
    ).toBe(204);
    expect(
      (await api.request(null, 'POST', '/api/auth/logout', { body: { refreshToken: tokens.refreshToken } }))
        .status,
    ).toBe(204);
    expect(
      (await api.request(null, 'POST', '/api/auth/refresh', { body: { refreshToken: tokens.refreshToken } }))
        .status,
    ).toBe(401);
  });

  it('logs out the whole family from any of its tokens: the newer one is refused too, in either order', async () => {
    const refresh = (refreshToken: string) =>
      api.request<TokenResponse>(null, 'POST', '/api/auth/refresh', { body: { refreshToken } });
    const logout = (refreshToken: string) =>
      api.request(null, 'POST', '/api/auth/logout', { body: { refreshToken } });
    const rotated = async () => {
      const a = (await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)).refreshToken;
      const b = await refresh(a);
      expect(b.status).toBe(200);
      return { a, b: b.body.refreshToken };
    };

    // Log out with the spent token A: its successor B, never presented since, dies with it.
    const spentFirst = await rotated();
    expect((await logout(spentFirst.a)).status).toBe(204);
    expect((await refresh(spentFirst.b)).status).toBe(401);
    expect((await refresh(spentFirst.a)).status).toBe(401);

    // Log out with the live token B: A stays refused and B is refused.
    const liveFirst = await rotated();
    expect((await logout(liveFirst.b)).status).toBe(204);
    expect((await refresh(liveFirst.b)).status).toBe(401);
    expect((await refresh(liveFirst.a)).status).toBe(401);

    // Another login is another family: logging one out leaves it alone.
    const other = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const stillLive = await rotated();
    expect((await logout(stillLive.a)).status).toBe(204);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('validates login bodies with 422 and refuses unknown fields', async () => {
    const response = await api.request(null, 'POST', '/api/auth/login', {
      body: { email: 'not-an-email', password: 'x', role: 'platform_admin' },
    });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.email',
      'body.role',
    ]);
  });

  it('rate-limits failed logins per email with 429 and Retry-After', async () => {
    const email = 'victim@bursar.test';
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 12; attempt += 1) {
      statuses.push(
        (await api.request(null, 'POST', '/api/auth/login', { body: { email, password: 'guess-guess' } }))
          .status,
      );
    }
    expect(statuses.slice(0, 9).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    const limited = await api.request(null, 'POST', '/api/auth/login', {
      body: { email, password: 'guess-guess' },
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
