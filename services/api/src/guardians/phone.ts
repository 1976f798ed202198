import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { fieldError } from '@bursar/platform';

/**
 * Checks an international number against its country's numbering plan and
 * returns it as E.164 (`+919876543210`), the one spelling stored, so the same
 * number typed with spaces or dashes is still one guardian. The number itself
 * never goes into an error message or a log line.
 */
export function normalisePhone(input: string, path: string): string {
  const parsed = parsePhoneNumberFromString(input);
  if (!parsed?.isValid()) {
    throw fieldError(path, 'not a valid phone number for its country code');
  }
  return parsed.number;
}
