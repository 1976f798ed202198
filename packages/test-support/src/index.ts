import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Kysely } from 'kysely';
import { afterAll, inject } from 'vitest';
import { createDb, type DB } from '@bursar/db';
import { cloneTestDatabase, dropTestDatabase } from '@bursar/db/testing';

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

/**
 * Boots an app on an ephemeral port; closed when the file's tests end. Listens with
 * node:http rather than the platform's `listen`, because the platform's own tests use this
 * package and a dependency back on the platform would make the two a cycle.
 */
export async function startApp(app: Express): Promise<{ url: string; server: Server }> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(
    () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // A test's keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
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
export * from './pdf.js';
export * from './processes.js';
export * from './images.js';
