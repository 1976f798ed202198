import { describe, expect, it } from 'vitest';
import { InvalidPhoneNumberError, maskPhone, redactNumbers, toE164 } from './phone.js';

describe('toE164', () => {
  it('reads numbers as staff type them, in India unless told otherwise', () => {
    expect(toE164('+91 98765 43210')).toBe('+919876543210');
    expect(toE164('098765-43210')).toBe('+919876543210');
    expect(toE164('98765 43210')).toBe('+919876543210');
    expect(toE164('(415) 555-2671', 'US')).toBe('+14155552671');
    expect(toE164('+44 7911 123456', 'US')).toBe('+447911123456');
  });

  it('refuses what is not a number, or a number that cannot exist, without repeating it', () => {
    for (const bad of ['call me', '+91 12345', '+1 555 000 1234', '']) {
      let error: unknown;
      try {
        toE164(bad);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidPhoneNumberError);
      const text = `${(error as Error).message} ${(error as Error).stack}`;
      if (bad) expect(text).not.toContain(bad);
      expect(text).not.toMatch(/12345|5550001234/);
    }
  });
});

describe('maskPhone', () => {
  it('keeps the country code and the last four digits', () => {
    expect(maskPhone('+919876543210')).toBe('+91******3210');
    expect(maskPhone('+14155552671')).toBe('+1******2671');
    expect(maskPhone('+447911123456')).toBe('+44******3456');
  });

  it('masks what is not E.164 too, and short inputs entirely', () => {
    expect(maskPhone('9876543210')).toBe('******3210');
    expect(maskPhone('12345')).toBe('*****');
    expect(maskPhone('')).toBe('');
    expect(maskPhone('+91 98765 43210')).toBe('+91******3210');
  });
});

describe('redactNumbers', () => {
  it('blanks phone-like runs in provider words and leaves error codes alone', () => {
    expect(redactNumbers('(#131026) Recipient +91 98765 43210 is not on WhatsApp')).toBe(
      '(#131026) Recipient [number] is not on WhatsApp',
    );
    expect(redactNumbers('Failed for 919876543210.')).toBe('Failed for [number].');
    expect(redactNumbers('(#130429) Rate limit hit')).toBe('(#130429) Rate limit hit');
  });
});
