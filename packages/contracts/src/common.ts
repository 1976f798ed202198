import { z } from 'zod';

/** A resource id: a UUID (v4 or v7). A malformed id is a 422, never a 500. */
export const Id = z.uuid();
export type Id = z.infer<typeof Id>;

/** Path parameters of a route addressing one resource by id. */
export const IdParams = z.strictObject({ id: Id });
export type IdParams = z.infer<typeof IdParams>;

/**
 * Upper bound on a single money amount in minor units (10^13, i.e. 100 billion
 * in a two-decimal currency). Keeps every sum far inside Number.MAX_SAFE_INTEGER.
 */
export const MAX_AMOUNT_MINOR = 10_000_000_000_000;

/** A strictly positive amount in minor units (paise, cents, centavos). */
export const PositiveAmountMinor = z.number().int().positive().max(MAX_AMOUNT_MINOR);

/** Any amount in minor units, signed (balances can be negative when a credit exists). */
export const AmountMinor = z
  .number()
  .int()
  .min(-MAX_AMOUNT_MINOR * 1000)
  .max(MAX_AMOUNT_MINOR * 1000);

/**
 * ISO 4217 alphabetic currency code, upper case (INR, USD, MXN), one the
 * runtime's ICU knows. The document lists the same codes as an enum, so a
 * client offers exactly the ones the server takes.
 */
export const CurrencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as INR')
  .refine((code) => Intl.supportedValuesOf('currency').includes(code), 'unknown ISO 4217 currency')
  .meta({
    description: 'An ISO 4217 alphabetic currency code, upper case (`INR`, `USD`, `MXN`).',
    enum: Intl.supportedValuesOf('currency'),
    examples: ['INR'],
  });
export type CurrencyCode = z.infer<typeof CurrencyCode>;

/** A money value: an integer count of minor units and the currency it is in. */
export const Money = z.strictObject({ amountMinor: AmountMinor, currency: CurrencyCode });
export type Money = z.infer<typeof Money>;

/**
 * A calendar date, `YYYY-MM-DD` (ISO 8601), that must exist. Year 0000 is
 * valid ISO 8601 but not a date PostgreSQL accepts, so it is a 422 here rather
 * than a 500 from the database.
 */
export const IsoDate = z.iso
  .date()
  .refine((date) => !date.startsWith('0000-'), 'the year must be 0001 or later')
  .meta({
    description: 'A calendar date that exists, `YYYY-MM-DD`, in year 0001 or later.',
    // zod's own date pattern (it checks leap years) with year 0000 left out.
    pattern: `^(?!0000-)${z.regexes.date.source.slice(1)}`,
  });
/**
 * An e-mail address (at most 254 characters), as zod checks it: the document
 * carries zod's pattern besides `format: email`, because the format alone
 * also allows quoted local parts and IP-literal domains, which are refused.
 */
export const Email = z.email().max(254).meta({
  description: 'An e-mail address such as `bursar@school.example`.',
  pattern: z.regexes.email.source,
});

/** An instant, ISO 8601 with an offset (`2026-11-22T10:00:00Z`). */
export const IsoDateTime = z.iso.datetime({ offset: true });

/** Query parameters every list endpoint accepts. */
export const PaginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type PaginationQuery = z.infer<typeof PaginationQuery>;

/** Pagination block of a list response. */
export const Pagination = z.object({
  limit: z.number().int(),
  offset: z.number().int(),
  total: z.number().int(),
});
export type Pagination = z.infer<typeof Pagination>;

/** The envelope of every list response: `{data, pagination}`. */
export function paginated<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), pagination: Pagination });
}
export type Paginated<T> = { data: T[]; pagination: Pagination };
