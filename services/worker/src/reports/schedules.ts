import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { JOBS } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { jobOptionsOf, type Logger, type Shutdown } from '@bursar/platform';

/** How often the worker brings BullMQ's report schedulers in line with `report_schedules`. */
export const SCHEDULE_SYNC_MS = 30_000;

const PREFIX = `${JOBS['kpi-report.scheduled'].name}.`;

/** The job scheduler id of a schedule row. */
export function schedulerIdOf(scheduleId: string): string {
  return `${PREFIX}${scheduleId}`;
}

/**
 * Makes the queue's report schedulers match the rows: one per schedule of a
 * school that still exists (pattern and zone as the row and the school say),
 * none for deleted ones. The rows are the truth, so a Redis that comes back
 * empty has its schedulers back at the next sync; repeating it changes nothing.
 */
export async function syncReportSchedulers(
  db: Kysely<DB>,
  queue: Queue,
): Promise<{ upserted: number; removed: number }> {
  const definition = JOBS['kpi-report.scheduled'];
  const rows = await db
    .selectFrom('reportSchedules')
    .innerJoin('schools', 'schools.id', 'reportSchedules.schoolId')
    .select(['reportSchedules.id', 'reportSchedules.cron', 'schools.timezone'])
    .where('schools.deletedAt', 'is', null)
    .execute();
  const wanted = new Map(rows.map((row) => [schedulerIdOf(row.id), row]));
  const existing = new Map(
    (await queue.getJobSchedulers(0, -1)).filter((s) => s.key.startsWith(PREFIX)).map((s) => [s.key, s]),
  );
  let removed = 0;
  for (const key of existing.keys()) {
    if (!wanted.has(key) && (await queue.removeJobScheduler(key))) removed += 1;
  }
  let upserted = 0;
  for (const [key, row] of wanted) {
    const current = existing.get(key);
    if (current?.pattern === row.cron && current.tz === row.timezone) continue;
    await queue.upsertJobScheduler(
      key,
      { pattern: row.cron, tz: row.timezone },
      {
        name: definition.name,
        data: { v: definition.version, payload: { scheduleId: row.id }, trace: {} },
        opts: jobOptionsOf(definition),
      },
    );
    upserted += 1;
  }
  return { upserted, removed };
}

/** Syncs the report schedulers now and every {@link SCHEDULE_SYNC_MS}; a failed sync is logged and tried again. */
export function startReportScheduleSync(options: {
  db: Kysely<DB>;
  redis: Redis;
  prefix: string;
  logger: Logger;
  shutdown: Shutdown;
  intervalMs?: number;
}): void {
  const queue = new Queue(JOBS['kpi-report.scheduled'].queue, {
    connection: options.redis,
    prefix: options.prefix,
  });
  let running: Promise<unknown> = Promise.resolve();
  const sync = () => {
    running = syncReportSchedulers(options.db, queue)
      .then((result) => {
        if (result.upserted || result.removed) options.logger.info(result, 'report schedulers synced');
      })
      .catch((error: unknown) =>
        options.logger.warn({ err: error }, 'report schedulers could not be synced; retrying'),
      );
  };
  sync();
  const timer = setInterval(sync, options.intervalMs ?? SCHEDULE_SYNC_MS);
  timer.unref();
  options.shutdown.add(
    'report schedule sync',
    async () => {
      clearInterval(timer);
      await running;
      await queue.close();
    },
    'workers',
  );
}
