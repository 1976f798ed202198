import { spawn, type ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { applyPaymentEvent } from '@bursar/contracts';
import { createLogger, createOutboxRelay, createRedis } from '@bursar/platform';
import {
  dbBuilders,
  freePort,
  freshDatabase,
  killHard,
  startWorkerProcess,
  testQueuePrefix,
  testRedisUrl,
  waitUntil,
  withoutFakedClock,
  type ServiceProcess,
} from '@bursar/test-support';
import {
  invoiceFor,
  providerId,
  razorpayCaptured,
  razorpayOrderPaid,
  storeEvent,
} from './payment-events.testing.js';

const { url: databaseUrl, db } = await freshDatabase();
const logger = createLogger('payments-crash-test', 'silent');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A redis-server of this test's own, so it can be stopped and brought back empty. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    // Under `pnpm test:future` libfaketime is preloaded; Redis is a real server from outside.
    { stdio: ['ignore', 'pipe', 'pipe'], env: withoutFakedClock(process.env) },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes('Ready to accept connections')) {
    if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  cleanups.push(() => killHard(child));
  return child;
}

/** The worker as deployed, on this file's database, killed when the test ends. */
function startWorker(env: { REDIS_URL: string; QUEUE_PREFIX: string }, port: number): ServiceProcess {
  const child = startWorkerProcess({ DATABASE_URL: databaseUrl, WORKER_PORT: String(port), ...env });
  cleanups.push(() => killHard(child));
  return child;
}

const until = waitUntil;

/** Payments on invoices of one school, each reported twice (payment.captured and order.paid), stored like webhooks. */
async function storePayments(count: number) {
  const schoolId = await dbBuilders(db).school();
  const payments: { paymentId: string; invoiceId: string; amountMinor: bigint; events: string[] }[] = [];
  for (let index = 0; index < count; index++) {
    const amountMinor = BigInt(1_000 + index);
    const invoice = await invoiceFor(db, amountMinor, { schoolId });
    const paymentId = providerId('pay');
    payments.push({ paymentId, invoiceId: invoice.invoiceId, amountMinor, events: [] });
  }
  for (const payment of payments) {
    const notes = { invoiceId: payment.invoiceId, schoolId };
    payment.events.push(
      await storeEvent(db, 'razorpay', razorpayCaptured({ ...payment, notes })),
      await storeEvent(db, 'razorpay', razorpayOrderPaid({ ...payment, notes })),
    );
  }
  return { schoolId, payments, eventIds: payments.flatMap((payment) => payment.events) };
}

async function processedCount(eventIds: string[]): Promise<number> {
  const row = await db
    .selectFrom('providerEvents')
    .select(sql<string>`count(*)`.as('count'))
    .where('id', 'in', eventIds)
    .where('status', '<>', 'received')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Each payment exactly once: one row per provider id, one event applied and the other a duplicate, invoices paid to the unit. */
async function expectEachAppliedOnce(stored: Awaited<ReturnType<typeof storePayments>>) {
  const rows = await db
    .selectFrom('payments')
    .select(['providerPaymentId', 'amountMinor', 'invoiceId'])
    .where('schoolId', '=', stored.schoolId)
    .execute();
  expect(rows).toHaveLength(stored.payments.length);
  expect(new Set(rows.map((row) => row.providerPaymentId)).size).toBe(stored.payments.length);
  const invoices = await db
    .selectFrom('invoices')
    .select(['id', 'paidMinor', 'totalMinor'])
    .where('schoolId', '=', stored.schoolId)
    .execute();
  for (const invoice of invoices) expect(invoice.paidMinor).toBe(invoice.totalMinor);
  const statuses = await db
    .selectFrom('providerEvents')
    .select(['status', sql<string>`count(*)`.as('count')])
    .where('id', 'in', stored.eventIds)
    .groupBy('status')
    .execute();
  expect(Object.fromEntries(statuses.map((row) => [row.status, Number(row.count)]))).toEqual({
    applied: stored.payments.length,
    duplicate: stored.payments.length,
  });
}

describe('the payments worker under failure', () => {
  it('applies every payment exactly once when the worker is SIGKILLed mid-batch and restarted', async () => {
    const prefix = testQueuePrefix();
    const env = { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: prefix };
    const stored = await storePayments(150);
    const total = stored.eventIds.length;

    const first = startWorker(env, await freePort());
    await until('the first events to apply', async () => {
      if (first.exitCode !== null) throw new Error(`worker exited:\n${first.output()}`);
      return (await processedCount(stored.eventIds)) >= 10;
    });
    await killHard(first);
    const atKill = await processedCount(stored.eventIds);
    // Otherwise the kill came too late to prove anything.
    expect(atKill).toBeLessThan(total);

    // Jobs that were active when it died are stalled; the new worker takes them again once their locks lapse.
    const second = startWorker(env, await freePort());
    await until(
      'every event to be processed after the restart',
      async () => {
        if (second.exitCode !== null) throw new Error(`worker exited:\n${second.output()}`);
        return (await processedCount(stored.eventIds)) === total;
      },
      110_000,
    );
    await expectEachAppliedOnce(stored);
    const connection = createRedis(testRedisUrl(), 'producer');
    const queue = new Queue(applyPaymentEvent.queue, { connection, prefix });
    await queue.obliterate({ force: true });
    await queue.close();
    await connection.quit();
  }, 180_000);

  it('applies payments stored while Redis is down once it is back, and again when it comes back empty', async () => {
    const redisPort = await freePort();
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    const prefix = testQueuePrefix();
    let redis = await startRedis(redisPort);
    const worker = startWorker({ REDIS_URL: redisUrl, QUEUE_PREFIX: prefix }, await freePort());

    // Down while the webhooks are stored: the outbox rows wait.
    await killHard(redis);
    const whileDown = await storePayments(10);
    expect(await processedCount(whileDown.eventIds)).toBe(0);
    redis = await startRedis(redisPort);
    await until('the events stored while Redis was down', async () => {
      if (worker.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
      return (await processedCount(whileDown.eventIds)) === whileDown.eventIds.length;
    });
    await expectEachAppliedOnce(whileDown);

    // Relayed into Redis while no worker runs, then Redis restarts empty: the jobs are gone, the rows are not.
    await killHard(worker);
    const producer = createRedis(redisUrl, 'producer');
    producer.on('error', () => undefined);
    const relay = createOutboxRelay({ db, redis: producer, prefix, logger, sweepIntervalMs: 50 });
    const lost = await storePayments(10);
    await relay.kick();
    const queue = new Queue(applyPaymentEvent.queue, { connection: producer, prefix });
    await until(
      'the jobs to reach Redis',
      async () => (await queue.getWaitingCount()) === lost.eventIds.length,
    );
    await queue.close();
    await relay.stop();
    producer.disconnect();
    await killHard(redis);
    redis = await startRedis(redisPort);
    const restarted = startWorker({ REDIS_URL: redisUrl, QUEUE_PREFIX: prefix }, await freePort());
    await until('the events whose jobs Redis lost', async () => {
      if (restarted.exitCode !== null) throw new Error(`worker exited:\n${restarted.output()}`);
      return (await processedCount(lost.eventIds)) === lost.eventIds.length;
    });
    await expectEachAppliedOnce(lost);
  }, 180_000);
});
