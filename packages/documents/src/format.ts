import { formatMoney } from '@bursar/contracts';

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(locale: string, timeZone: string): Intl.DateTimeFormat {
  const key = `${locale}|${timeZone}`;
  let format = dateFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone });
    dateFormats.set(key, format);
  }
  return format;
}

/**
 * A calendar date (`YYYY-MM-DD`) as the school's locale writes it
 * (`5 Apr 2026` in en-IN, `Apr 5, 2026` in en-US, `05.04.2026` in de-DE).
 * Formatted in UTC because the date is a day, not an instant. Anything that
 * is not such a date is printed as it is rather than guessed at.
 */
export function formatDay(isoDate: string, locale: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(isoDate)) return isoDate;
  const time = Date.parse(`${isoDate}T00:00:00Z`);
  return Number.isNaN(time) ? isoDate : dateFormat(locale, 'UTC').format(time);
}

/** The day an instant (ISO 8601) falls on in the school's time zone, as its locale writes it. */
export function formatInstantDay(instant: string, locale: string, timeZone: string): string {
  const time = Date.parse(instant);
  return Number.isNaN(time) ? instant : dateFormat(locale, timeZone).format(time);
}

const quantityFormats = new Map<string, Intl.NumberFormat>();

/** A line's quantity in the school's locale (`1`, `2.5`, `2,5`). */
export function formatQuantity(quantity: number, locale: string): string {
  let format = quantityFormats.get(locale);
  if (!format) {
    format = new Intl.NumberFormat(locale, { maximumFractionDigits: 3 });
    quantityFormats.set(locale, format);
  }
  return format.format(quantity);
}

/** An amount in the school's currency and locale (see `formatMoney` in contracts). */
export function money(amountMinor: bigint, school: { currency: string; locale: string }): string {
  return formatMoney(amountMinor, school.currency, school.locale);
}

const METHOD_LABELS: Record<string, string> = {
  cash: 'Cash',
  bank_transfer: 'Bank transfer',
  upi: 'UPI',
  card: 'Card',
  cheque: 'Cheque',
  online: 'Online',
};

const PROVIDER_LABELS: Record<string, string> = { razorpay: 'Razorpay', stripe: 'Stripe' };

/** `snake_case` words as a label: `bank_transfer` → `Bank transfer`. */
function humanize(value: string): string {
  const words = value.replace(/[_-]+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : value;
}

/** A payment method as a receipt names it; one the contracts add later still reads sensibly. */
export function methodLabel(method: string): string {
  return METHOD_LABELS[method] ?? humanize(method);
}

/** A payment provider's name as it writes it. */
export function providerLabel(provider: string): string {
  return PROVIDER_LABELS[provider] ?? humanize(provider);
}
