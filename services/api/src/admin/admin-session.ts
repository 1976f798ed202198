import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Role } from '@bursar/contracts';

/** How long a dashboard session lives without a request; each request starts the count again. */
export const ADMIN_SESSION_TTL_SECONDS = 30 * 60;

/** The dashboard session cookie; `Path=/admin`, so the api's own routes never receive it. */
export const ADMIN_SESSION_COOKIE = 'bursar_admin';

/** What a dashboard session holds: who logged in and the role they had then. */
export interface AdminSession {
  userId: string;
  /** The role at login: a session whose user now has another role is ended, not carried over. */
  role: Role;
}

/**
 * Dashboard sessions in Redis, so every api replica shares them and a logout
 * or an expiry is the same everywhere. The cookie carries a random id; Redis
 * keeps only its SHA-256, so a copy of Redis holds no cookie that would log in.
 */
export interface AdminSessions {
  /** Starts a session and returns the id for the cookie. */
  create(session: AdminSession): Promise<string>;
  /** The live session for a cookie id, its lifetime renewed; undefined when unknown or expired. */
  touch(id: string): Promise<AdminSession | undefined>;
  /** Ends a session; ending an unknown one is fine (logging out twice). */
  end(id: string): Promise<void>;
}

/** Creates {@link AdminSessions} under `prefix` (the api's QUEUE_PREFIX, so each test has its own). */
export function createAdminSessions(redis: Redis, prefix: string): AdminSessions {
  const keyOf = (id: string) => `${prefix}:admin-session:${createHash('sha256').update(id).digest('hex')}`;
  return {
    async create(session) {
      const id = randomBytes(32).toString('base64url');
      await redis.set(keyOf(id), JSON.stringify(session), 'EX', ADMIN_SESSION_TTL_SECONDS);
      return id;
    },
    async touch(id) {
      // Ids are what create made (43 base64url characters); anything else is not worth a round trip.
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
      const key = keyOf(id);
      const replies = (await redis.multi().get(key).expire(key, ADMIN_SESSION_TTL_SECONDS).exec()) ?? [];
      const failed = replies.find(([error]) => error)?.[0];
      if (failed) throw failed;
      const stored = replies[0]?.[1] as string | null | undefined;
      if (!stored) return undefined;
      return JSON.parse(stored) as AdminSession;
    },
    async end(id) {
      await redis.del(keyOf(id));
    },
  };
}
