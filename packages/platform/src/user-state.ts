import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Role } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import type { Logger } from './logger.js';

/** A user as access checks (and `GET /api/me`) need them: who they are and what they may do now. */
export interface UserState {
  role: Role;
  schoolId: string | null;
  status: string;
  email: string;
  name: string;
}

/**
 * Users' current role, school and status, for the authenticator. Reads are
 * cached in-process while the process listens for changes; a change to a
 * user row is announced by a trigger (`bursar_user_changed`, migration 0005)
 * when it commits, and every process forgets that user. While the listener is
 * not connected nothing is cached, so a missed announcement can never leave a
 * disabled user in.
 */
export interface UserStates {
  get(userId: string): Promise<UserState | undefined>;
  /**
   * What `get` would answer from the cache alone, without waiting: `{ state }`
   * when the user is cached (`state` undefined for one that does not exist),
   * `undefined` when it would have to read the row.
   */
  peek?(userId: string): { state: UserState | undefined } | undefined;
  /**
   * Forgets a user in this process at once. The process that made a change
   * calls it after commit, so its very next request sees the change without
   * waiting for the announcement to come back.
   */
  forget(userId: string): void;
  /** Stops listening (shutdown). */
  close(): Promise<void>;
}

export interface UserStatesOptions {
  db: Kysely<DB>;
  /**
   * The database to LISTEN on, with a connection of its own. Without it
   * nothing is cached and every request reads the user row.
   */
  listenUrl?: string;
  logger: Logger;
  /** A backstop on how long an entry lives even while listening. */
  ttlMs?: number;
  maxEntries?: number;
}

const CHANNEL = 'bursar_user_changed';

export function createUserStates(options: UserStatesOptions): UserStates {
  const { db, logger } = options;
  const ttlMs = options.ttlMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 50_000;
  const cache = new Map<string, { state: UserState | undefined; expiresAt: number }>();
  // Bumped by every forget: a read that started before a change must not store what it read.
  let generation = 0;
  let listening = false;
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let backoffMs = 250;

  const forget = (userId?: string) => {
    generation += 1;
    if (userId) cache.delete(userId);
    else cache.clear();
  };

  const connect = async () => {
    if (closed || !options.listenUrl) return;
    const next = new pg.Client({
      connectionString: options.listenUrl,
      application_name: 'bursar-user-listen',
    });
    const lost = (error?: Error) => {
      if (client !== next) return;
      listening = false;
      client = undefined;
      forget();
      next.removeAllListeners();
      // The connection is already broken; how its closing ends changes nothing.
      next.on('error', () => undefined);
      void next.end().catch(() => undefined);
      if (closed) return;
      logger.warn(
        { err: error?.message },
        'user change listener lost; reading users uncached until it is back',
      );
      retry = setTimeout(() => void connect(), backoffMs);
      retry.unref();
      backoffMs = Math.min(backoffMs * 2, 10_000);
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload) forget(message.payload);
    });
    client = next;
    try {
      await next.connect();
      await next.query(`listen ${CHANNEL}`);
      // Whatever changed while we were not listening is unknown: start empty.
      forget();
      listening = true;
      backoffMs = 250;
    } catch (error) {
      lost(error as Error);
    }
  };
  void connect();

  const cached = (userId: string, now: number) => {
    if (!listening) return undefined;
    const hit = cache.get(userId);
    return hit && hit.expiresAt > now ? hit : undefined;
  };

  return {
    peek: (userId) => cached(userId, Date.now()),
    async get(userId) {
      const now = Date.now();
      const hit = cached(userId, now);
      if (hit) return hit.state;
      const startedAt = generation;
      const row = await db
        .selectFrom('users')
        .select(['role', 'schoolId', 'status', 'email', 'name'])
        .where('id', '=', userId)
        .executeTakeFirst();
      const state = row ? { ...row, role: row.role as Role } : undefined;
      if (listening && generation === startedAt) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(userId, { state, expiresAt: now + ttlMs });
      }
      return state;
    },
    forget: (userId) => forget(userId),
    async close() {
      closed = true;
      listening = false;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      cache.clear();
      if (current) {
        current.removeAllListeners();
        // Shutting down: a listener connection that fails while closing has nothing left to lose.
        current.on('error', () => undefined);
        await current.end().catch(() => undefined);
      }
    },
  };
}
