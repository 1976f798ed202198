import { sql, type Expression } from 'kysely';

/**
 * Quiet hours: a daily window in the school's time zone (it may cross
 * midnight, 21:00–07:00) in which nothing is sent. Returns how long from
 * `now` until the window ends, or 0 outside it.
 */
export function quietHoursRemainingMs(
  now: Date,
  timeZone: string,
  start: string | null,
  end: string | null,
): number {
  if (!start || !end) return 0;
  const minutes = (time: string) => {
    const [hours, mins] = time.split(':').map(Number) as [number, number];
    return hours * 60 + mins;
  };
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const nowSeconds = part('hour') * 3600 + part('minute') * 60 + part('second');
  const from = minutes(start) * 60;
  const to = minutes(end) * 60;
  if (from === to) return 0;
  const inside = from < to ? nowSeconds >= from && nowSeconds < to : nowSeconds >= from || nowSeconds < to;
  if (!inside) return 0;
  const day = 24 * 3600;
  return ((((to - nowSeconds) % day) + day) % day) * 1000;
}

/**
 * Whether `at` (now, unless told) falls inside the quiet hours, in SQL, by the
 * rule `quietHoursRemainingMs` follows: the window [start, end) on the local
 * clock of `timeZone`, crossing midnight when end is before start, no window
 * when either is null or they are equal. Local times compare to the second
 * either way (a time inside 07:00:00.5 is past a 07:00 end, as 25,200 whole
 * seconds are), so both sides agree on every instant.
 */
export function quietHoursSql(
  timeZone: Expression<string>,
  start: Expression<string | null>,
  end: Expression<string | null>,
  at: Expression<Date> = sql<Date>`now()`,
) {
  const local = sql`(${at} at time zone ${timeZone})::time`;
  return sql<boolean>`coalesce(${start} <> ${end} and case when ${start} < ${end}
    then ${local} >= ${start} and ${local} < ${end}
    else ${local} >= ${start} or ${local} < ${end} end, false)`;
}
