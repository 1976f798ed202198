import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/**
 * A phone number that does not parse as a valid number. The message says why
 * (libphonenumber's reason), never the number itself: it may reach a log.
 */
export class InvalidPhoneNumberError extends Error {
  constructor(readonly reason: string) {
    super(`not a valid phone number (${reason})`);
    this.name = 'InvalidPhoneNumberError';
  }
}

/** E.164 as WhatsApp's APIs take it: `+`, a country code, at most 15 digits in all. */
export const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * A phone number as typed by staff or a guardian (`098765 43210`, `+91 98765-43210`)
 * in E.164 (`+919876543210`). Numbers without a country code are read in
 * `defaultCountry` (India unless told). Checked against libphonenumber's full
 * metadata, so a number that cannot exist is refused here rather than by the
 * provider; throws `InvalidPhoneNumberError` (without the number).
 */
export function toE164(phone: string, defaultCountry: CountryCode = 'IN'): string {
  const parsed = parsePhoneNumberFromString(phone, defaultCountry);
  if (!parsed) throw new InvalidPhoneNumberError('not a phone number');
  if (!parsed.isValid()) throw new InvalidPhoneNumberError('no such number in its country');
  return parsed.number;
}

/**
 * An E.164 number safe to log: the country code and the last four digits,
 * the rest starred (`+919876543210` → `+91******3210`). Anything that is not
 * E.164 is starred but for its last four characters, and short inputs
 * entirely, so a malformed number does not leak either.
 */
export function maskPhone(e164: string): string {
  const compact = e164.replace(/[\s().-]/g, '');
  const parsed = E164.test(compact) ? parsePhoneNumberFromString(compact) : undefined;
  if (parsed) {
    const national = parsed.nationalNumber;
    const shown = Math.min(4, Math.max(0, national.length - 4));
    return `+${parsed.countryCallingCode}${'*'.repeat(national.length - shown)}${national.slice(national.length - shown)}`;
  }
  if (compact.length <= 6) return '*'.repeat(compact.length);
  return `${'*'.repeat(compact.length - 4)}${compact.slice(-4)}`;
}

/**
 * Blanks every run that looks like a phone number (seven or more digits,
 * perhaps with `+`, spaces or dashes) in provider text that Bursar passes on
 * as an error title or logs: providers sometimes quote the recipient.
 */
export function redactNumbers(text: string): string {
  return text.replace(/\+?\d[\d\s-]{5,}\d/g, '[number]');
}
