import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { afterAll } from 'vitest';
import type { DB } from '@bursar/db';
import { createLogger, createOutboxRelay, createRedis, type OutboxRelay } from '@bursar/platform';
import { testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { createApp } from '../app.js';
import { loadServiceConfig, type Config } from '../config.js';
import { createSandboxStore, type SandboxStore } from '../sandbox/sandbox.store.js';

export interface TestWebhookApp {
  /** The app's own address; also its PUBLIC_URL, so the sandbox's webhooks come back to it. */
  url: string;
  config: Config;
  relay: OutboxRelay;
  redis: Redis;
  store: SandboxStore;
  prefix: string;
  /** Every log line the app wrote, to check that no secret, signature or body is in them. */
  logs: string[];
}

/**
 * billing-webhook as it runs, on an ephemeral port: the real app with a
 * database of the test file's own, a real Redis (the suite's, or `redisUrl`)
 * under a prefix of its own, and an outbox relay that sweeps. PUBLIC_URL is
 * the app's own address, so Pay on the sandbox page posts back to this app.
 * Everything is closed when the file's tests end.
 */
export async function startWebhookApp(options: {
  db: Kysely<DB>;
  env?: Record<string, string>;
  redisUrl?: string;
}): Promise<TestWebhookApp> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const prefix = testQueuePrefix();
  const config = loadServiceConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PUBLIC_URL: url,
    QUEUE_PREFIX: prefix,
    ...options.env,
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('billing-webhook-test', 'info', { destination });
  const redis = createRedis(options.redisUrl ?? testRedisUrl(), 'producer');
  // Expected while a test's own Redis is down; the relay reports what matters.
  redis.on('error', () => undefined);
  const relay = createOutboxRelay({ db: options.db, redis, prefix, logger, sweepIntervalMs: 100 });
  relay.start();
  const store = createSandboxStore();
  const app = createApp({ config, logger, db: options.db, redis, outbox: relay, sandbox: store });
  handler = app;
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await relay.stop();
    await redis.quit().catch(() => redis.disconnect());
  });
  return { url, config, relay, redis, store, prefix, logs };
}
