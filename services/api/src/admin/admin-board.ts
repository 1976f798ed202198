import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { JOBS, QueueName } from '@bursar/contracts';

type BoardOptions = Parameters<typeof createBullBoard>[0];

/** Where the dashboard is mounted; Caddy routes `/admin/queues*` to the api. */
export const BOARD_PATH = '/admin/queues';

/** The queues the dashboard shows: every `QueueName` some job of the catalog runs on, in catalog order. */
export function dashboardQueueNames(): QueueName[] {
  const used = new Set<string>(Object.values(JOBS).map((job) => job.queue));
  return QueueName.options.filter((name) => used.has(name));
}

/** The dashboard's two boards over the same queues: one that acts on jobs, one that only shows them. */
export interface AdminBoards {
  /** Bull Board with every action: retry, promote, clean, remove. */
  full: Express;
  /** The same board with every queue in `readOnlyMode`: its UI shows no action. */
  readOnly: Express;
  /** Closes the queues (the shared Redis connection stays open). */
  close(): Promise<void>;
}

/**
 * Builds the boards. Bull Board fixes `readOnlyMode` per adapter when it is
 * created, so a per-role view needs a board per mode; both are served at
 * {@link BOARD_PATH} and the session's role picks one per request. Job data
 * is shown as stored: payloads carry ids only (house rule 7), never a phone
 * number or a name.
 */
export function createAdminBoards(redis: Redis, prefix: string): AdminBoards {
  const queues = dashboardQueueNames().map((name) => new Queue(name, { connection: redis, prefix }));
  const board = (readOnlyMode: boolean): Express => {
    const serverAdapter = new ExpressAdapter().setBasePath(BOARD_PATH);
    createBullBoard({
      queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode, allowRetries: !readOnlyMode })),
      // @bull-board/express 9.10.1 declares its types against @bull-board/api 9.10.1, whose
      // BaseAdapter has the same shape as 9.10.2's but a private field TypeScript will not unify.
      serverAdapter: serverAdapter as unknown as BoardOptions['serverAdapter'],
      options: {
        uiConfig: {
          boardTitle: readOnlyMode ? 'Bursar jobs (read-only)' : 'Bursar jobs',
          // The login page shows who is signed in and the sign-out button (a POST, which a link cannot send).
          miscLinks: [{ text: 'Sign out', url: '/admin/login' }],
          hideDocsLink: true,
        },
      },
    });
    const app = serverAdapter.getRouter() as Express;
    app.disable('x-powered-by');
    return app;
  };
  return {
    full: board(false),
    readOnly: board(true),
    close: async () => {
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
