import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '@bursar/test-support';
import { startWebhookApp } from '../testing/harness.js';

const { db } = await freshDatabase();

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server of this file's own (with the real clock, as under `pnpm test:future`), killable like a crash. */
async function startRedis(port: number): Promise<ChildProcess> {
  const { LD_PRELOAD: _preload, FAKETIME: _faketime, ...env } = process.env;
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes('Ready to accept connections')) {
    if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

const port = await freePort();
let redis = await startRedis(port);
afterAll(() => kill(redis));
const SECRET = 'rzp_whsec_redis_down';
const app = await startWebhookApp({
  db,
  redisUrl: `redis://127.0.0.1:${port}`,
  env: { RAZORPAY_WEBHOOK_SECRETS: SECRET },
});

function captured(): Buffer {
  return Buffer.from(
    JSON.stringify({
      entity: 'event',
      account_id: 'acc_Test',
      event: 'payment.captured',
      contains: ['payment'],
      payload: {
        payment: {
          entity: { id: `pay_${randomUUID().slice(0, 14)}`, amount: 1000, currency: 'INR', notes: [] },
        },
      },
      created_at: Math.floor(Date.now() / 1000),
    }),
  );
}

describe('webhooks while Redis is down', () => {
  it('answers 200 and keeps every apply job in the outbox until Redis is back', async () => {
    await kill(redis);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => {
        const body = captured();
        return fetch(`${app.url}/webhooks/razorpay`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-razorpay-signature': createHmac('sha256', SECRET).update(body).digest('hex'),
            'x-razorpay-event-id': `evt_${randomUUID()}`,
          },
          body,
        });
      }),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(5).fill(200));
    await app.relay.sweep();
    const waiting = await db.selectFrom('outbox').select(['relayedAt']).execute();
    expect(waiting).toHaveLength(5);
    expect(waiting.every((row) => row.relayedAt === null)).toBe(true);
    expect(await db.selectFrom('providerEvents').select('id').execute()).toHaveLength(5);

    // Back, and empty: the relay hands every job over.
    redis = await startRedis(port);
    await expect
      .poll(
        async () =>
          (await db.selectFrom('outbox').select('relayedAt').where('relayedAt', 'is', null).execute()).length,
        {
          timeout: 15_000,
        },
      )
      .toBe(0);
  });
});
