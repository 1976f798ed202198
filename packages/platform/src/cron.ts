import cronParser from 'cron-parser';
import { fieldError } from './sql.js';

/** The shortest gap a report schedule may leave between two runs. */
export const MIN_CRON_INTERVAL_MS = 60 * 60_000;

/**
 * Checks a five-field cron pattern as BullMQ's job schedulers will read it
 * (the same parser), in `timezone`, and returns its next run. A pattern that
 * does not parse, or that would run more often than once an hour (judged over
 * its next runs), is a 422 on `path`.
 */
export function checkCron(pattern: string, timezone: string, path: string, now: Date = new Date()): Date {
  let runs: Date[];
  try {
    const interval = cronParser.parseExpression(pattern, { tz: timezone, currentDate: now });
    runs = Array.from({ length: 25 }, () => interval.next().toDate());
  } catch (error) {
    throw fieldError(
      path,
      `is not a cron pattern BullMQ can run: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  for (let i = 1; i < runs.length; i += 1) {
    if (runs[i]!.getTime() - runs[i - 1]!.getTime() < MIN_CRON_INTERVAL_MS) {
      throw fieldError(path, 'runs more often than once an hour');
    }
  }
  return runs[0]!;
}

/** The next run of a pattern already checked, or null if it has none. */
export function nextCronRun(pattern: string, timezone: string, now: Date = new Date()): Date | null {
  try {
    return cronParser.parseExpression(pattern, { tz: timezone, currentDate: now }).next().toDate();
  } catch {
    return null;
  }
}
