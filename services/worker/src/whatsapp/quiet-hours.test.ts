import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '@bursar/test-support';
import { quietHoursRemainingMs, quietHoursSql } from './quiet-hours.js';

const { db } = await freshDatabase();
afterAll(() => db.destroy());

// Whole-hour, half-hour and quarter-hour offsets, both hemispheres' summer time, and a zone
// whose summer time moves the clock by 30 minutes.
const ZONES = [
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'America/Los_Angeles',
  'Europe/Madrid',
  'Australia/Lord_Howe',
  'America/Sao_Paulo',
  'UTC',
];

/** A small seeded generator, so a failure names a case that comes back on the next run. */
function generator(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    // The high bits: an LCG's low bits repeat with short periods, which would tie one draw to the next.
    return Math.floor((state / 2 ** 32) * n);
  };
}

const hhmm = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** The local minute of the day at `at` (a whole UTC minute is a whole local minute in every zone). */
function localMinute(at: Date, timeZone: string): number {
  const [hours, minutes] = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
    .format(at)
    .split(':')
    .map(Number) as [number, number];
  return hours * 60 + minutes;
}

describe('quiet hours in SQL (the send claim) and in TypeScript (the held send) agree', () => {
  it('on every instant, at the edges of the window to the half second, in zones of every kind', async () => {
    const random = generator(20261202);
    const year = Date.UTC(2026, 0, 1);
    const cases: { zone: string; start: string | null; end: string | null; at: Date }[] = [];
    for (let i = 0; i < 1_500; i++) {
      const zone = ZONES[random(ZONES.length)]!;
      // A whole minute somewhere in the year (DST changes included), then moved by a little.
      const minute = new Date(year + random(365 * 24 * 60) * 60_000);
      const nudge = [-1_000, -500, -1, 0, 1, 500, 999, 1_000, random(3_600_000) - 1_800_000][random(9)]!;
      const at = new Date(minute.getTime() + nudge);
      const edge = localMinute(minute, zone);
      const other = random(24 * 60);
      const shape = random(6);
      // The window starts or ends exactly at that minute, crosses midnight or not, is empty, or absent.
      const [start, end] =
        shape === 0
          ? [edge, other]
          : shape === 1
            ? [other, edge]
            : shape === 2
              ? [edge, edge]
              : shape === 3
                ? [(edge + 23 * 60) % (24 * 60), (edge + 60) % (24 * 60)]
                : shape === 4
                  ? [random(24 * 60), random(24 * 60)]
                  : [null, null];
      cases.push({
        zone,
        start: start === null ? null : hhmm(start),
        end: end === null ? null : hhmm(end),
        at,
      });
    }
    const values = sql.join(
      cases.map(
        (c, index) =>
          sql`(${index}::int, ${c.zone}::text, ${c.start}::time, ${c.end}::time, ${c.at.toISOString()}::timestamptz)`,
      ),
    );
    const { rows } = await sql<{ index: number; quiet: boolean }>`
      select c.index, ${quietHoursSql(sql.ref('c.zone'), sql.ref('c.start'), sql.ref('c.end'), sql.ref('c.at'))} as quiet
      from (values ${values}) as c(index, zone, start, "end", at)
      order by c.index
    `.execute(db);
    const disagreements = cases
      .map((c, index) => ({
        ...c,
        at: c.at.toISOString(),
        sql: rows[index]!.quiet,
        typescript: quietHoursRemainingMs(c.at, c.zone, c.start, c.end) > 0,
      }))
      .filter((c) => c.sql !== c.typescript);
    expect(disagreements).toEqual([]);
    // Both answers occur, so the comparison is not of two constant functions.
    expect(rows.filter((row) => row.quiet).length).toBeGreaterThan(300);
    expect(rows.filter((row) => !row.quiet).length).toBeGreaterThan(300);
  });
});
