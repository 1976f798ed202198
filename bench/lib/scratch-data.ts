import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../../packages/db/src/cli.js';
import { REDIS_URL } from './stack.js';

/** Drops a benchmark's own database and migrates it afresh, so every count a run makes is exact. */
export async function recreateDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await client.end();
  }
  await migrate(url);
}

/** Deletes a benchmark's own queue keys left by an earlier run (SCAN + DEL under its prefix only). */
export async function clearQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
