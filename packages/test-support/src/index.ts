import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Kysely } from 'kysely';
import { afterAll, inject } from 'vitest';
import { createDb, type DB } from '@bursar/db';
import { cloneTestDatabase, dropTestDatabase } from '@bursar/db/testing';
import { closeServer, listen } from '@bursar/platform';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the run's migrated template database (see tests/global-setup.ts). */
    templateDatabaseUrl: string;
    redisUrl: string;
  }
}

/** A fresh, migrated database for this test file, dropped when the file's tests end. */
export async function freshDatabase(): Promise<{ url: string; db: Kysely<DB> }> {
  const url = await cloneTestDatabase(inject('templateDatabaseUrl'));
  const db = createDb(url, { max: 5, applicationName: 'bursar-test' });
  afterAll(async () => {
    await db.destroy();
    await dropTestDatabase(url);
  });
  return { url, db };
}

export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A BullMQ prefix no other run or file shares. */
export function testQueuePrefix(): string {
  return `{bursar-test-${randomBytes(5).toString('hex')}}`;
}

/** Boots an app on an ephemeral port; closed when the file's tests end. */
export async function startApp(app: Express): Promise<{ url: string; server: Server }> {
  const { server, url } = await listen(app, 0, undefined, '127.0.0.1');
  afterAll(() => closeServer(server));
  return { url, server };
}

/** Reads a free TCP port by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export * from './dates.js';
export * from './builders.js';
