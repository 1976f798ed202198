/**
 * Dates for tests, always relative to the clock the test runs under: a test
 * that writes `2026-12-10` is true until that day and false after it, one
 * that writes `daysFromToday(18)` stays true (and `pnpm test:future` runs the
 * suite under a faked clock to show it).
 */

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The calendar date (`YYYY-MM-DD`) it is at `now` in an IANA time zone. Written
 * apart from the ledger's `todayIn` on purpose: tests judge the code with it.
 */
export function localDate(timezone: string, now: Date = new Date()): string {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    formatters.set(timezone, formatter);
  }
  return formatter.format(now);
}

/** `date` (`YYYY-MM-DD`) moved by `days` calendar days (negative for earlier). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The date `days` from today in `timezone` (UTC unless given). */
export function daysFromToday(days: number, timezone = 'UTC', now: Date = new Date()): string {
  return addDays(localDate(timezone, now), days);
}

/** Whole days from `from` to `to` (both `YYYY-MM-DD`); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}
