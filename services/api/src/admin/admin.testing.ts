/**
 * Helpers for the dashboard's tests: form posts as a browser sends them, a
 * signed-in cookie, and a real failed job on a queue under the test's prefix.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { applyPaymentEvent } from '@bursar/contracts';
import type { TestApi } from '../testing/harness.js';
import { ADMIN_SESSION_COOKIE } from './admin-session.js';

/** POSTs a urlencoded form with the given headers (Origin the api's own unless overridden), not following redirects. */
export function postForm(
  api: Pick<TestApi, 'url'>,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = { origin: api.url },
): Promise<Response> {
  return fetch(`${api.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The `name=value` of the dashboard cookie a response sets, for a `Cookie` header. */
export function sessionCookieOf(response: Response): string | undefined {
  const line = response.headers
    .getSetCookie()
    .find((cookie) => cookie.startsWith(`${ADMIN_SESSION_COOKIE}=`));
  return line?.split(';')[0];
}

/** Signs in through the form and returns the cookie; throws unless the answer is the 303 to the board. */
export async function signIn(api: Pick<TestApi, 'url'>, email: string, password: string): Promise<string> {
  const response = await postForm(api, '/admin/login', { email, password });
  const cookie = sessionCookieOf(response);
  if (response.status !== 303 || !cookie) throw new Error(`sign-in as ${email} answered ${response.status}`);
  return cookie;
}

/** The email of a user the harness created (`callerFor` returns the id only). */
export async function emailOf(api: Pick<TestApi, 'db'>, userId: string): Promise<string> {
  const row = await api.db
    .selectFrom('users')
    .select('email')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  return row.email;
}

/**
 * Adds a `payment-event.apply` job to the test's `payments` queue and fails it
 * once, for real, with a worker whose processor throws `reason`. The worker is
 * closed before this returns, so nothing picks the job up again after a retry.
 */
export async function failedPaymentJob(
  connection: Redis,
  prefix: string,
  reason: string,
): Promise<{ queue: Queue; job: Job }> {
  const queue = new Queue(applyPaymentEvent.queue, { connection, prefix });
  const eventId = randomUUID();
  const job = await queue.add(
    applyPaymentEvent.name,
    { v: applyPaymentEvent.version, payload: { eventId }, trace: {} },
    { jobId: applyPaymentEvent.jobId({ eventId }), attempts: 1 },
  );
  const workerConnection = connection.duplicate({ maxRetriesPerRequest: null });
  const worker = new Worker(
    applyPaymentEvent.queue,
    async () => {
      throw new Error(reason);
    },
    { connection: workerConnection, prefix, autorun: false },
  );
  worker.on('error', () => undefined);
  const failed = new Promise<void>((resolve) =>
    worker.on('failed', (failedJob) => failedJob?.id === job.id && resolve()),
  );
  void worker.run();
  await failed;
  await worker.close();
  await workerConnection.quit();
  return { queue, job };
}
