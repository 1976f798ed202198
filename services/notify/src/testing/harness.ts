/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are whatever the route under test sends */
/**
 * Test harness for notify: the real app on an ephemeral port with a database
 * of the test file's own, real Redis under a private prefix, the WhatsApp
 * sandbox as its provider (whose webhooks come back to this app), and access
 * tokens for any role in any school. Used only by `*.test.ts` files.
 *
 * Tokens: notify checks them as in production (`createAuthenticator` over a
 * JWKS, and the user's row as it is now), but the key set is a local one the
 * harness signs with, standing in for the api's `/.well-known/jwks.json`. A
 * service never imports another service, and the api's harness would also
 * bring a second app and the demo seed into every notify test.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { afterAll } from 'vitest';
import { JWT_AUDIENCE, JWT_ISSUER, type Role } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import {
  createAuthenticator,
  createLogger,
  createOutboxRelay,
  createRedis,
  createUserStates,
  jwksKeySource,
  type OutboxRelay,
} from '@bursar/platform';
import {
  dbBuilders,
  freshDatabase,
  testQueuePrefix,
  testRedisUrl,
  uniqueTag,
  type DbBuilders,
} from '@bursar/test-support';
import { createWhatsAppProvider } from '@bursar/whatsapp';
import { startWhatsAppSandbox, type WhatsAppSandbox } from '@bursar/whatsapp/testing';
import { createApp } from '../app.js';
import { loadServiceConfig, type Config } from '../config.js';

/** Someone calling notify: a user row and an access token for it. */
export interface TestCaller {
  token: string;
  role: Role;
  userId: string;
  schoolId: string | null;
}

export interface TestResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: T;
  text: string;
}

export interface RequestOptions {
  /** A JSON value, or bytes / a string sent as they are. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestNotify {
  url: string;
  db: Kysely<DB>;
  /** This file's database, to start a second app over it (`database` option). */
  databaseUrl: string;
  config: Config;
  /** The app's outbox relay (kicked after commits that enqueued, never sweeping). */
  outbox: OutboxRelay;
  /** The provider the app submits templates to; its webhooks are POSTed back to this app. */
  sandbox: WhatsAppSandbox;
  /** Every line the app logged (at debug level), to check that no number or body reaches them. */
  logs: string[];
  rows: DbBuilders;
  /** A platform admin (no school). */
  admin: TestCaller;
  /** A user with `role` in `schoolId`, with a token notify accepts. */
  callerFor(role: Role, schoolId: string | null): Promise<TestCaller>;
  /** Sends a request; `caller` null for an anonymous one. */
  request<T = any>(
    caller: TestCaller | null,
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<TestResponse<T>>;
}

export interface TestNotifyOptions {
  /** More config variables (`WHATSAPP_SANDBOX_API: 'gupshup'`, secrets for a rotation). */
  env?: Record<string, string>;
  /** Another app over the same database (the file's first one's), e.g. with another provider. */
  database?: { db: Kysely<DB>; url: string };
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An EdDSA access token as the api signs them (issuer, audience, `sub`, `iat`, `exp`, role, school). */
function signToken(privateKey: KeyObject, kid: string, claims: Omit<TestCaller, 'token'>): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'EdDSA', kid, typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({
      sub: claims.userId,
      role: claims.role,
      schoolId: claims.schoolId,
      iss: JWT_ISSUER,
      aud: JWT_AUDIENCE,
      iat: now,
      exp: now + 15 * 60,
      jti: randomUUID(),
    }),
  );
  const signature = sign(null, Buffer.from(`${header}.${payload}`), privateKey);
  return `${header}.${payload}.${base64url(signature)}`;
}

/**
 * notify as it runs, on an ephemeral port. Everything it starts (the server,
 * the sandbox, the relay, Redis connections, the user listener) is closed
 * when the file's tests end, and its Redis keys deleted. Call it while the
 * file is collected (at the top of the file or of a `describe`), not inside a
 * test: the closing is an `afterAll`, which a test cannot register.
 */
export async function startNotify(options: TestNotifyOptions = {}): Promise<TestNotify> {
  const { db, url: databaseUrl } = options.database ?? (await freshDatabase());
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const prefix = testQueuePrefix();
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    ...options.env,
  };
  // The sandbox signs and addresses its webhooks with the secrets this app is given.
  const secrets = loadServiceConfig(env);
  const sandbox = await startWhatsAppSandbox({
    webhookUrl: `${url}/webhooks/whatsapp/meta`,
    gupshupCallbackUrl: `${url}/webhooks/whatsapp/gupshup?token=${encodeURIComponent(secrets.GUPSHUP_CALLBACK_TOKEN)}`,
    appSecret: secrets.WHATSAPP_APP_SECRETS[0]!,
  });
  const config = loadServiceConfig({ WHATSAPP_API_BASE: sandbox.url, ...env });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('notify-test', 'debug', { destination });
  const redis = createRedis(testRedisUrl(), 'producer');
  const outbox = createOutboxRelay({ db, redis, prefix, logger });

  const kid = `test-${uniqueTag()}`;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' }] };
  const users = createUserStates({ db, listenUrl: databaseUrl, logger });
  const authenticator = createAuthenticator({ keys: jwksKeySource({ jwks }), users });

  const app = createApp({
    config,
    logger,
    db,
    redis,
    authenticator,
    outbox,
    provider: createWhatsAppProvider(config),
  });
  handler = app;
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await sandbox.close();
    await outbox.stop();
    await users.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  async function callerFor(role: Role, schoolId: string | null): Promise<TestCaller> {
    const user = await db
      .insertInto('users')
      .values({
        email: `${role}-${uniqueTag()}@bursar.test`,
        name: `Test ${role}`,
        role,
        schoolId,
        passwordHash: 'not-used: tokens are signed by the harness',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const claims = { role, userId: user.id, schoolId };
    return { ...claims, token: signToken(privateKey, kid, claims) };
  }

  async function request<T>(
    caller: TestCaller | null,
    method: string,
    path: string,
    { body, headers = {} }: RequestOptions = {},
  ): Promise<TestResponse<T>> {
    const sent: Record<string, string> = { ...headers };
    if (caller) sent.authorization = `Bearer ${caller.token}`;
    const raw = typeof body === 'string' || body instanceof Uint8Array;
    if (body !== undefined && !raw) sent['content-type'] ??= 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers: sent,
      body: body === undefined ? undefined : raw ? (body as string | Uint8Array) : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    if (/json/.test(response.headers.get('content-type') ?? '')) parsed = text ? JSON.parse(text) : undefined;
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  return {
    url,
    db,
    databaseUrl,
    config,
    outbox,
    sandbox,
    logs,
    rows: dbBuilders(db),
    admin: await callerFor('platform_admin', null),
    callerFor,
    request,
  };
}
