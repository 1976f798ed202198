/**
 * Money as people read it, for documents, messages and exports. Amounts are
 * integer minor units; nothing here goes through a float, so the largest
 * amount Bursar holds prints exactly.
 */

const digitsCache = new Map<string, number>();

/** How many minor digits a currency has (INR 2, JPY 0, BHD 3), as ICU knows it. */
export function currencyDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
    digitsCache.set(currency, digits);
  }
  return digits;
}

/** `125000` minor units of a 2-digit currency → `"1250.00"` (a decimal string; exact for any bigint). */
export function minorToDecimal(amountMinor: bigint | number, currency: string): string {
  const digits = currencyDigits(currency);
  const amount = BigInt(amountMinor);
  const negative = amount < 0n;
  const text = (negative ? -amount : amount).toString().padStart(digits + 1, '0');
  const whole = digits ? text.slice(0, -digits) : text;
  const fraction = digits ? `.${text.slice(-digits)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

const formatters = new Map<string, Intl.NumberFormat>();

/**
 * An amount in the school's currency and locale: `₹1,250.00` (en-IN, INR),
 * `$1,250.00` (en-US, USD), `1.250,00 €` (de-DE, EUR). The decimal string is
 * handed to `Intl.NumberFormat`, which formats strings exactly.
 */
export function formatMoney(amountMinor: bigint | number, currency: string, locale: string): string {
  const key = `${locale}|${currency}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formatters.set(key, formatter);
  }
  // A numeric string is formatted without conversion to a double (Intl.NumberFormat v3).
  return formatter.format(minorToDecimal(amountMinor, currency) as unknown as number);
}
