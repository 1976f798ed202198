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
