/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are whatever the route under test sends */
/**
 * Test harness for the api: a fresh database, the real app on an ephemeral
 * port, real Redis under a private prefix, and helpers to log in as any role
 * in any school. Used only by `*.test.ts` files.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDocumentDeps, type PublishDeps } from '@bursar/documents';
import { payPageUrl } from '@bursar/payments';
import {
  createLogger,
  createOutboxRelay,
  createRedis,
  createUserStates,
  type Logger,
  type OutboxRelay,
} from '@bursar/platform';
import { createStorage } from '@bursar/storage';
import {
  dbBuilders,
  freshDatabase,
  httpBuilders,
  startApp,
  testQueuePrefix,
  testRedisUrl,
  type DbBuilders,
  type HttpBuilders,
  type Send,
} from '@bursar/test-support';
import { afterAll } from 'vitest';
import type { Role, TokenResponse } from '@bursar/contracts';
import { createApp } from '../app.js';
import { loadServiceConfig } from '../config.js';
import { generateSigningKeyPem, loadSigningKeys } from '../auth/keys.js';
import { hashPassword } from '../auth/password.js';
import { seedDemo } from '../seed/seed.js';
import { DEMO_SCHOOL } from '../seed/demo-data.js';

export const ADMIN_EMAIL = 'admin@bursar.test';
export const ADMIN_PASSWORD = 'admin-password-1';
export const STAFF_PASSWORD = 'staff-password-1';

export interface Caller {
  token: string;
  role: Role;
  userId: string;
  schoolId: string | null;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestApi {
  url: string;
  db: Kysely<DB>;
  /** This file's database, for processes a test starts beside the api (billing-webhook, the worker). */
  databaseUrl: string;
  /** This file's BullMQ prefix: jobs the app enqueues land under it (no worker runs unless a test starts one). */
  queuePrefix: string;
  /** The app's outbox relay (not sweeping: kicked after commits, or swept by a test). */
  outbox: OutboxRelay;
  /** The app's document dependencies (storage in a temporary directory). */
  documents: PublishDeps;
  /** The app's configuration. */
  config: ReturnType<typeof loadServiceConfig>;
  /** The seeded demo school (INR, Asia/Kolkata). */
  demoSchoolId: string;
  admin: Caller;
  /** Sends a request; `caller` null for an anonymous one. */
  request<T = any>(
    caller: Caller | null,
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<ApiResponse<T>>;
  /** `request` bound to `caller`: what the test-support builders send with. */
  as(caller: Caller | null): Send;
  /** Test data builders over HTTP, acting as `caller`. */
  build(caller: Caller): HttpBuilders;
  /** Test data builders straight into this file's database, for rows a test is not about. */
  rows: DbBuilders;
  login(email: string, password: string): Promise<TokenResponse>;
  /** Creates a user with `role` in `schoolId` and logs in as them. */
  callerFor(role: Role, schoolId: string | null): Promise<Caller>;
  /** Creates a school directly in the database and returns its id. */
  createSchool(overrides?: Partial<{ name: string; currency: string; timezone: string }>): Promise<string>;
}

export interface TestApiOptions {
  /** Called once for every statement the app runs (not the harness's own), e.g. to count a request's queries. */
  onQuery?: () => void;
  /** More config variables, e.g. `startFakeProviders().env` to send pay-link requests to a fake provider. */
  env?: Record<string, string>;
  /** The app's logger (default: silent, or TEST_LOG_LEVEL), e.g. one writing to a test's own stream. */
  logger?: Logger;
}

export async function createTestApi({ onQuery, env = {}, logger }: TestApiOptions = {}): Promise<TestApi> {
  const { db, url: databaseUrl } = await freshDatabase();
  const prefix = testQueuePrefix();
  const redis = createRedis(testRedisUrl(), 'producer');
  const storageDir = mkdtempSync(join(tmpdir(), 'bursar-api-storage-'));
  afterAll(() => rmSync(storageDir, { recursive: true, force: true }));
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
  const config = loadServiceConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    JWT_PRIVATE_KEY: await generateSigningKeyPem(),
    STORAGE_DIR: storageDir,
    ...env,
  });
  const keys = await loadSigningKeys({
    pem: config.JWT_PRIVATE_KEY,
    keyFile: '/dev/null',
    production: false,
  });
  await seedDemo(db, {
    adminEmail: ADMIN_EMAIL,
    adminPassword: ADMIN_PASSWORD,
    demoPassword: STAFF_PASSWORD,
    // Tests start from an empty ledger; the demo fee plan is for people trying the product.
    billing: false,
  });
  // TEST_LOG_LEVEL=error shows server-side errors while debugging a test.
  // Listening for user changes as production does, so the cache and its invalidation are what tests exercise.
  const userStates = createUserStates({
    db,
    listenUrl: databaseUrl,
    logger: createLogger('api-test', 'silent'),
  });
  afterAll(() => userStates.close());
  const appLogger = logger ?? createLogger('api-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const outbox = createOutboxRelay({ db, redis, prefix, logger: appLogger });
  afterAll(() => outbox.stop());
  const documents = createDocumentDeps({
    db,
    storage: createStorage(config),
    payLink: (invoiceId) => payPageUrl(config.PUBLIC_URL, config.PAY_LINK_SECRET, invoiceId),
    logger: appLogger,
  });
  const app = createApp({
    config,
    logger: appLogger,
    outbox,
    documents,
    // A plugin's transformResult runs once per executed statement (subqueries are not counted apart).
    db: onQuery
      ? db.withPlugin({
          transformQuery: ({ node }) => node,
          transformResult: async ({ result }) => {
            onQuery();
            return result;
          },
        })
      : db,
    redis,
    keys,
    userStates,
  });
  const { url } = await startApp(app);

  async function request<T>(
    caller: Caller | null,
    method: string,
    path: string,
    options: RequestOptions = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    if (caller) headers.authorization = `Bearer ${caller.token}`;
    if (options.body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      body:
        options.body === undefined
          ? undefined
          : typeof options.body === 'string' || options.body instanceof Uint8Array
            ? options.body
            : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, headers: response.headers, body: body as T };
  }

  async function login(email: string, password: string): Promise<TokenResponse> {
    const response = await request<TokenResponse>(null, 'POST', '/api/auth/login', {
      body: { email, password },
    });
    if (response.status !== 200) throw new Error(`login ${email} failed: ${JSON.stringify(response.body)}`);
    return response.body;
  }

  const adminTokens = await login(ADMIN_EMAIL, ADMIN_PASSWORD);
  const adminRow = await db
    .selectFrom('users')
    .select('id')
    .where('email', '=', ADMIN_EMAIL)
    .executeTakeFirstOrThrow();
  const admin: Caller = {
    token: adminTokens.accessToken,
    role: 'platform_admin',
    userId: adminRow.id,
    schoolId: null,
  };
  const staffHash = await hashPassword(STAFF_PASSWORD);
  const rows = dbBuilders(db);
  const as =
    (caller: Caller | null): Send =>
    (method, path, options) =>
      request(caller, method, path, options);

  return {
    url,
    db,
    databaseUrl,
    queuePrefix: prefix,
    outbox,
    documents,
    config,
    demoSchoolId: DEMO_SCHOOL.id,
    admin,
    request,
    as,
    build: (caller) => httpBuilders(as(caller)),
    rows,
    login,
    async callerFor(role, schoolId) {
      const email = `${role}-${randomUUID().slice(0, 8)}@bursar.test`;
      const user = await db
        .insertInto('users')
        .values({ email, name: `Test ${role}`, role, schoolId, passwordHash: staffHash })
        .returning('id')
        .executeTakeFirstOrThrow();
      const tokens = await login(email, STAFF_PASSWORD);
      return { token: tokens.accessToken, role, userId: user.id, schoolId };
    },
    createSchool: (overrides = {}) => rows.school(overrides),
  };
}
