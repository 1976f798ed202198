const formatters = new Map<string, Intl.DateTimeFormat>();

/** Today's date (`YYYY-MM-DD`) in an IANA time zone: the day a school's office is living in. */
export function todayIn(timezone: string, now: Date = new Date()): string {
  let formatter = formatters.get(timezone);
  if (!formatter) {
    // Building a formatter costs far more than using one; there are only so many zones.
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

/** A calendar date (`YYYY-MM-DD`) moved by whole days (no time zone involved: dates are not instants). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
