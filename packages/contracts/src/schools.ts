import { z } from 'zod';
import { CurrencyCode, Email, Id, IsoDateTime, PaginationQuery, paginated } from './common.js';
import { nonEmptyPatch, PlainText, SearchText, SortParam } from './list.js';

function acceptsTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const CANONICAL_TIME_ZONES = new Map(
  Intl.supportedValuesOf('timeZone').map((zone) => [zone.toLowerCase(), zone]),
);

/**
 * An IANA time zone name (`Asia/Kolkata`, `America/Mexico_City`, `UTC`).
 * Checked by constructing `Intl.DateTimeFormat`, because `Intl.supportedValuesOf`
 * lists only canonical names and, on older ICU, omits current ones such as
 * `Asia/Kolkata`. Offsets (`+05:30`) are not zones: they ignore daylight saving.
 * Stored with the spelling of the IANA list when it has one.
 */
export const TimeZone = z
  .string()
  .trim()
  .max(64, { abort: true })
  .regex(/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/, {
    message: 'must be an IANA time zone such as Asia/Kolkata',
    abort: true,
  })
  .refine(acceptsTimeZone, 'unknown IANA time zone')
  .transform((zone) => CANONICAL_TIME_ZONES.get(zone.toLowerCase()) ?? zone)
  .meta({
    description:
      'An IANA time zone name (`Asia/Kolkata`, `America/Mexico_City`, `UTC`) that the ' +
      "server's time zone database knows; case does not matter and links such as " +
      '`Asia/Calcutta` are accepted. A UTC offset (`+05:30`) is not a time zone: it ignores ' +
      'daylight saving.',
    examples: ['Asia/Kolkata'],
  });
export type TimeZone = z.infer<typeof TimeZone>;

function canonicalLocale(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

/**
 * What the document promises of a locale: language, optional script, optional
 * region (`en`, `en-IN`, `zh-Hant-TW`). Every tag of this shape is one the
 * server accepts; the server also takes longer well-formed BCP 47 tags.
 */
const LOCALE_PATTERN = '^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\\d{3}))?$';

/** A BCP 47 language tag (`en-IN`, `es-MX`, `hi`), stored in canonical case. */
export const Locale = z
  .string()
  .trim()
  .min(2, { abort: true })
  .max(35, { abort: true })
  .refine((tag) => canonicalLocale(tag) !== undefined, 'must be a BCP 47 language tag such as en-IN')
  .transform((tag) => canonicalLocale(tag)!)
  .meta({
    description:
      'A BCP 47 language tag: language, optional script, optional region (`en-IN`, `es-MX`, ' +
      '`hi`, `zh-Hant-TW`), stored in canonical case.',
    pattern: LOCALE_PATTERN,
    examples: ['en-IN'],
  });
export type Locale = z.infer<typeof Locale>;

/**
 * A short BCP 47 tag for the language a person reads (`en`, `hi`, `es`,
 * optionally with a region: `pt-BR`); it picks message templates.
 */
export const LanguageTag = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{2,3}(?:-(?:[A-Za-z]{2}|\d{3}))?$/, {
    message: "must be a short BCP 47 tag such as 'en', 'hi' or 'pt-BR'",
    abort: true,
  })
  .refine((tag) => canonicalLocale(tag) !== undefined, 'must be a BCP 47 language tag')
  .transform((tag) => canonicalLocale(tag)!)
  .meta({
    description: 'A short BCP 47 tag, a language with an optional region (`en`, `hi`, `pt-BR`).',
    examples: ['en'],
  });
export type LanguageTag = z.infer<typeof LanguageTag>;

/**
 * A phone number in international form, starting with `+` and the country
 * code (`+919876543210`; spaces, dashes and brackets are tolerated). The api
 * checks it against the numbering plan and stores it as E.164. The document
 * asks for E.164 itself, the one spelling every client can produce and the
 * server always takes the same way.
 */
export const PhoneInput = z
  .string()
  .trim()
  .regex(/^\+[\d\s().-]{6,24}$/, 'must be an international number starting with +, such as +919876543210')
  .meta({
    description:
      'A phone number in E.164 form: `+`, the country code and the number, digits only ' +
      "(`+919876543210`). It must be a valid number under its country's numbering plan.",
    pattern: z.regexes.e164.source,
    examples: ['+919876543210'],
  });
export type PhoneInput = z.infer<typeof PhoneInput>;

const SchoolName = PlainText(1, 200);
const Address = PlainText(1, 500, { multiline: true });

/** `POST /api/schools` (platform admins only). `locale` defaults to `en-IN`. */
export const CreateSchoolBody = z.strictObject({
  name: SchoolName,
  currency: CurrencyCode,
  timezone: TimeZone,
  locale: Locale.optional(),
  address: Address.optional(),
  contactEmail: Email.optional(),
  contactPhone: PhoneInput.optional(),
});
export type CreateSchoolBody = z.infer<typeof CreateSchoolBody>;

/**
 * `PATCH /api/schools/:id`. `null` clears an optional field. The currency
 * cannot change once the school has invoices (409): their amounts are in it.
 */
export const UpdateSchoolBody = nonEmptyPatch(
  z.strictObject({
    name: SchoolName.optional(),
    currency: CurrencyCode.optional(),
    timezone: TimeZone.optional(),
    locale: Locale.optional(),
    address: Address.nullable().optional(),
    contactEmail: Email.nullable().optional(),
    contactPhone: PhoneInput.nullable().optional(),
  }),
);
export type UpdateSchoolBody = z.infer<typeof UpdateSchoolBody>;

/** A school (a tenant): its currency is the currency of every amount in it. */
export const School = z.object({
  id: Id,
  name: z.string(),
  currency: CurrencyCode,
  timezone: z.string(),
  locale: z.string(),
  address: z.string().nullable(),
  contactEmail: z.string().nullable(),
  contactPhone: z.string().nullable(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type School = z.infer<typeof School>;

/** `GET /api/schools/:id`: the school and how many active students it has. */
export const SchoolDetail = School.extend({ studentsCount: z.number().int() });
export type SchoolDetail = z.infer<typeof SchoolDetail>;

/** Fields `GET /api/schools` sorts by. */
export const SchoolSort = SortParam(['name', 'createdAt']);
export type SchoolSort = z.infer<typeof SchoolSort>;

/** `GET /api/schools`: every school for a platform admin, otherwise only the caller's own. */
export const ListSchoolsQuery = PaginationQuery.extend({
  q: SearchText.optional(),
  sort: SchoolSort.default('name'),
}).strict();
export type ListSchoolsQuery = z.infer<typeof ListSchoolsQuery>;

/** Answer of `GET /api/schools`. */
export const SchoolList = paginated(School);
export type SchoolList = z.infer<typeof SchoolList>;
