import { createHash, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { JOBS } from '@bursar/contracts';
import { createRedis } from '@bursar/platform';
import { testRedisUrl } from '@bursar/test-support';
import { type z } from 'zod';
import { LOGIN_LIMITS } from '../auth/rate-limit.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, STAFF_PASSWORD, createTestApi } from '../testing/harness.js';
import { dashboardQueueNames } from './admin-board.js';
import { ADMIN_SESSION_COOKIE, ADMIN_SESSION_TTL_SECONDS } from './admin-session.js';
import { WITHHELD } from './admin.routes.js';
import { emailOf, failedPaymentJob, postForm, sessionCookieOf, signIn } from './admin.testing.js';

describe('job dashboard', async () => {
  const api = await createTestApi();
  const redis = createRedis(testRedisUrl(), 'worker');
  afterAll(() => redis.quit());
  const queues: Queue[] = [];
  afterAll(() => Promise.all(queues.map((queue) => queue.close())));

  const get = (path: string, cookie?: string) =>
    fetch(`${api.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const put = (path: string, cookie: string) =>
    fetch(`${api.url}${path}`, { method: 'PUT', redirect: 'manual', headers: { cookie, origin: api.url } });
  const staffEmail = async (role: 'school_admin' | 'accountant' | 'teacher') => {
    const caller = await api.callerFor(role, api.demoSchoolId);
    return { caller, email: await emailOf(api, caller.userId) };
  };

  /** A real failed job of this test's own, so no test depends on another having run. */
  const failedJob = async () => {
    const failed = await failedPaymentJob(redis, api.queuePrefix, 'provider event could not be matched');
    queues.push(failed.queue);
    return failed;
  };

  it('signs in with a 303 to the board and a short-lived HttpOnly SameSite=Strict cookie on /admin', async () => {
    const response = await postForm(api, '/admin/login', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/admin/queues');
    const line = response.headers.getSetCookie().find((c) => c.startsWith(`${ADMIN_SESSION_COOKIE}=`))!;
    const attributes = line.split(';').map((part) => part.trim().toLowerCase());
    expect(attributes).toContain('httponly');
    expect(attributes).toContain('samesite=strict');
    expect(attributes).toContain('path=/admin');
    expect(attributes).toContain(`max-age=${ADMIN_SESSION_TTL_SECONDS}`);
    // NODE_ENV=test: plain HTTP, so no Secure (production sets it).
    expect(attributes).not.toContain('secure');
    const board = await get('/admin/queues', sessionCookieOf(response));
    expect(board.status).toBe(200);
    // Redis holds the session under the id's SHA-256 (not the id), with the same lifetime.
    const id = sessionCookieOf(response)!.split('=')[1]!;
    const key = `${api.queuePrefix}:admin-session:${createHash('sha256').update(id).digest('hex')}`;
    expect(await redis.ttl(key)).toBeGreaterThan(0);
    expect(await redis.ttl(key)).toBeLessThanOrEqual(ADMIN_SESSION_TTL_SECONDS);
    expect(JSON.parse((await redis.get(key))!)).toEqual({ userId: api.admin.userId, role: 'platform_admin' });
    expect(await redis.exists(`${api.queuePrefix}:admin-session:${id}`)).toBe(0);
    // Sliding: each request renews the cookie with the session (same id, a fresh Max-Age).
    const renewed = board.headers.getSetCookie().find((c) => c.startsWith(`${ADMIN_SESSION_COOKIE}=`))!;
    expect(renewed.split(';')[0]).toBe(sessionCookieOf(response));
    expect(renewed.toLowerCase()).toContain(`max-age=${ADMIN_SESSION_TTL_SECONDS}`);
    expect(await board.text()).toContain('<base href="/admin/queues/"');
  });

  it('answers a wrong password with the form again, a 401 and a generic message', async () => {
    const response = await postForm(api, '/admin/login', {
      email: ADMIN_EMAIL,
      password: 'not-the-password',
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.getSetCookie()).toEqual([]);
    const page = await response.text();
    expect(page).toContain('The email or password is not correct.');
    expect(page).toContain('<form method="post" action="/admin/login">');
    // The email typed comes back escaped, never as markup.
    const hostile = await postForm(api, '/admin/login', { email: '"><script>x</script>', password: 'x' });
    const hostilePage = await hostile.text();
    expect(hostilePage).not.toContain('<script>');
    expect(hostilePage).toContain('&quot;&gt;&lt;script&gt;');
  });

  it.each([
    ['no Origin or Referer', {}],
    ['a foreign Origin', { origin: 'https://evil.example' }],
    ['a foreign Referer', { referer: 'https://evil.example/form' }],
    ['Origin null', { origin: 'null' }],
  ])('refuses a form POST with %s: 403 problem+json', async (_, headers) => {
    const response = await postForm(
      api,
      '/admin/login',
      { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
      headers,
    );
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(((await response.json()) as { code: string }).code).toBe('forbidden');
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it("accepts PUBLIC_URL's origin and a same-origin Referer", async () => {
    const publicOrigin = new URL(api.config.PUBLIC_URL).origin;
    const viaPublic = await postForm(
      api,
      '/admin/login',
      { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
      { origin: publicOrigin },
    );
    expect(viaPublic.status).toBe(303);
    const viaReferer = await postForm(
      api,
      '/admin/login',
      { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
      { referer: `${api.url}/admin/login` },
    );
    expect(viaReferer.status).toBe(303);
  });

  it('sends a caller without a session to the login, and the board API answers 401 problem+json', async () => {
    for (const path of ['/admin/queues', '/admin/queues/queue/payments']) {
      const page = await get(path);
      expect(page.status, path).toBe(303);
      expect(page.headers.get('location')).toBe('/admin/login');
    }
    for (const cookie of [undefined, `${ADMIN_SESSION_COOKIE}=${'x'.repeat(43)}`]) {
      const listing = await get('/admin/queues/api/queues', cookie);
      expect(listing.status).toBe(401);
      expect(listing.headers.get('content-type')).toContain('application/problem+json');
    }
    const login = await get('/admin/login');
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="password"');
  });

  it.each(['teacher', 'accountant'] as const)('refuses a %s at the login, with no session', async (role) => {
    const { email } = await staffEmail(role);
    const response = await postForm(api, '/admin/login', { email, password: STAFF_PASSWORD });
    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await response.text()).toContain('may not use the job dashboard');
  });

  it("shows a school admin every queue of the catalog, and refuses the board API's changes with 403", async () => {
    const { email } = await staffEmail('school_admin');
    const cookie = await signIn(api, email, STAFF_PASSWORD);
    const failed = await failedJob();
    const listing = await get('/admin/queues/api/queues', cookie);
    expect(listing.status).toBe(200);
    const { queues: shown } = (await listing.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(shown.map((queue) => queue.name).sort()).toEqual(dashboardQueueNames().sort());
    expect(shown.every((queue) => queue.readOnlyMode)).toBe(true);

    const jobId = failed.job.id!;
    for (const path of [
      `/admin/queues/api/queues/payments/${jobId}/retry`,
      `/admin/queues/api/queues/payments/retry/failed`,
      `/admin/queues/api/queues/payments/clean/failed`,
      `/admin/queues/api/queues/payments/${jobId}/promote`,
    ]) {
      const response = await put(path, cookie);
      expect(response.status, path).toBe(403);
      expect(((await response.json()) as { code: string }).code).toBe('forbidden');
    }
    const post = await fetch(`${api.url}/admin/queues/api/queues/payments/add`, {
      method: 'POST',
      headers: { cookie, origin: api.url, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'payment-event.apply', data: {} }),
    });
    expect(post.status).toBe(403);
    expect(await failed.job.getState()).toBe('failed');
  });

  it("shows a school admin their own school's jobs in full and withholds every other job's data, reason and logs", async () => {
    const { email } = await staffEmail('school_admin');
    const cookie = await signIn(api, email, STAFF_PASSWORD);
    // A job of no school (ids only) that failed, and two renders: this school's and another's.
    const failed = await failedJob();
    const renders = new Queue(JOBS['invoice-pdf.render'].queue, {
      connection: redis,
      prefix: api.queuePrefix,
    });
    queues.push(renders);
    const render = (schoolId: string) =>
      renders.add(
        'invoice-pdf.render',
        { v: 1, payload: { invoiceId: randomUUID(), schoolId, revision: 'r1' }, trace: {} },
        { jobId: `invoice-pdf.render.${randomUUID()}.r1` },
      );
    const ours = await render(api.demoSchoolId);
    const theirs = await render(randomUUID());

    type BoardJob = { id: string; data: unknown; failedReason?: string; stacktrace?: unknown[] };
    const listed = async (queue: string, status: string) => {
      const response = await get(
        `/admin/queues/api/queues?activeQueue=${queue}&status=${status}&page=1`,
        cookie,
      );
      expect(response.status).toBe(200);
      const { queues: shown } = (await response.json()) as { queues: { name: string; jobs: BoardJob[] }[] };
      return shown.find((each) => each.name === queue)!.jobs;
    };
    const failedShown = (await listed('payments', 'failed')).find((job) => job.id === failed.job.id)!;
    expect(failedShown).toMatchObject({
      data: { withheld: WITHHELD },
      failedReason: WITHHELD,
      stacktrace: [],
    });
    expect(JSON.stringify(failedShown)).not.toContain('could not be matched');
    const waiting = await listed('invoice-pdf', 'waiting');
    expect(waiting.find((job) => job.id === ours.id)!.data).toEqual(ours.data);
    expect(waiting.find((job) => job.id === theirs.id)!.data).toEqual({ withheld: WITHHELD });
    // One job at a time, and its logs, the same.
    const single = await get(`/admin/queues/api/queues/invoice-pdf/${theirs.id}`, cookie);
    expect(((await single.json()) as { job: BoardJob }).job.data).toEqual({ withheld: WITHHELD });
    await theirs.log('printed for another school');
    const logs = await get(`/admin/queues/api/queues/invoice-pdf/${theirs.id}/logs`, cookie);
    expect(JSON.stringify(await logs.json())).not.toContain('another school');

    // The platform admin sees everything as stored.
    const admin = await signIn(api, ADMIN_EMAIL, ADMIN_PASSWORD);
    const full = await get(`/admin/queues/api/queues/invoice-pdf/${theirs.id}`, admin);
    expect(((await full.json()) as { job: BoardJob }).job.data).toEqual(theirs.data);
  });

  it('lets a platform admin see every queue and retry a failed job, which BullMQ then holds as waiting', async () => {
    const cookie = await signIn(api, ADMIN_EMAIL, ADMIN_PASSWORD);
    const failed = await failedJob();
    const listing = await get('/admin/queues/api/queues?activeQueue=payments&status=failed', cookie);
    const { queues: shown } = (await listing.json()) as {
      queues: {
        name: string;
        readOnlyMode: boolean;
        jobs: { id: string; failedReason: string; data: unknown }[];
      }[];
    };
    expect(shown.map((queue) => queue.name).sort()).toEqual(dashboardQueueNames().sort());
    const payments = shown.find((queue) => queue.name === 'payments')!;
    expect(payments.readOnlyMode).toBe(false);
    const job = payments.jobs.find((candidate) => candidate.id === failed.job.id)!;
    expect(job.failedReason).toBe('provider event could not be matched');
    // Shown as stored: the envelope with ids only.
    expect(job.data).toEqual(failed.job.data);

    const retry = await put(`/admin/queues/api/queues/payments/${failed.job.id}/retry`, cookie);
    expect(retry.status).toBeLessThan(300);
    expect(await failed.job.getState()).toBe('waiting');
  });

  it('refuses a board change without the Origin of a Bursar page even with a valid session', async () => {
    const cookie = await signIn(api, ADMIN_EMAIL, ADMIN_PASSWORD);
    const response = await fetch(`${api.url}/admin/queues/api/queues/payments/clean/failed`, {
      method: 'PUT',
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(response.status).toBe(403);
  });

  it('ends the session on the next request once the user is disabled or changes role', async () => {
    for (const change of [{ status: 'disabled' }, { role: 'accountant' }]) {
      const { caller, email } = await staffEmail('school_admin');
      const cookie = await signIn(api, email, STAFF_PASSWORD);
      expect((await get('/admin/queues/api/queues', cookie)).status).toBe(200);
      const patched = await api.request(
        api.admin,
        'PATCH',
        `/api/schools/${api.demoSchoolId}/users/${caller.userId}`,
        { body: change },
      );
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      expect((await get('/admin/queues/api/queues', cookie)).status).toBe(401);
      expect((await get('/admin/queues', cookie)).headers.get('location')).toBe('/admin/login');
      if (change.role) {
        // Changing the role back does not revive it: the session was deleted, not only refused.
        await api.request(api.admin, 'PATCH', `/api/schools/${api.demoSchoolId}/users/${caller.userId}`, {
          body: { role: 'school_admin' },
        });
        expect((await get('/admin/queues/api/queues', cookie)).status).toBe(401);
      }
    }
  });

  it('ends the previous session when the same browser signs in again', async () => {
    const first = await signIn(api, ADMIN_EMAIL, ADMIN_PASSWORD);
    const again = await postForm(
      api,
      '/admin/login',
      { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
      { origin: api.url, cookie: first },
    );
    const second = sessionCookieOf(again)!;
    expect(second).not.toBe(first);
    expect((await get('/admin/queues/api/queues', first)).status).toBe(401);
    expect((await get('/admin/queues/api/queues', second)).status).toBe(200);
  });

  it('logs out: the session is deleted, the cookie cleared, and the answer a 303 to the login', async () => {
    const cookie = await signIn(api, ADMIN_EMAIL, ADMIN_PASSWORD);
    const signedIn = await get('/admin/login', cookie);
    expect(await signedIn.text()).toContain(`Signed in as ${ADMIN_EMAIL}`);
    const response = await postForm(api, '/admin/logout', {}, { origin: api.url, cookie });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/admin/login');
    expect(response.headers.getSetCookie().join()).toMatch(
      new RegExp(`${ADMIN_SESSION_COOKIE}=;.*Expires=Thu, 01 Jan 1970`),
    );
    expect((await get('/admin/queues/api/queues', cookie)).status).toBe(401);
    expect((await postForm(api, '/admin/logout', {}, { cookie })).status).toBe(403);
  });

  it('shares the login rate limit with /api/auth/login: 429 with Retry-After once the pair is spent', async () => {
    const email = 'dashboard-victim@bursar.test';
    const half = Math.floor(LOGIN_LIMITS.perEmailAndAddress / 2);
    for (let attempt = 0; attempt < half; attempt += 1) {
      const response = await api.request(null, 'POST', '/api/auth/login', {
        body: { email, password: 'guess-guess' },
      });
      expect(response.status).toBe(401);
    }
    for (let attempt = half; attempt < LOGIN_LIMITS.perEmailAndAddress; attempt += 1) {
      expect((await postForm(api, '/admin/login', { email, password: 'guess-guess' })).status).toBe(401);
    }
    const limited = await postForm(api, '/admin/login', { email, password: 'guess-guess' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('Too many sign-in attempts');
  });

  it('puts no phone number in any job payload the board shows: payload fields are ids and counters', () => {
    for (const definition of Object.values(JOBS)) {
      const shape = (definition.payload as unknown as z.ZodObject).shape;
      expect(
        Object.keys(shape).filter((key) => /phone|mobile|msisdn|whatsapp|number|to$/i.test(key)),
        definition.name,
      ).toEqual([]);
    }
  });
});
