import { z } from 'zod';

/** A `sort` value: a whitelisted field, ascending, or descending with a leading `-`. */
export type SortValue<F extends string> = F | `-${F}`;

/**
 * The `sort` query parameter of a list endpoint: one of `fields`, optionally
 * prefixed with `-` for descending (`sort=lastName`, `sort=-createdAt`). Any
 * other value is a 422 listing the accepted ones.
 */
export function SortParam<const F extends string>(fields: readonly [F, ...F[]]) {
  const values = fields.flatMap((field) => [field, `-${field}`]) as [SortValue<F>, ...SortValue<F>[]];
  return z.enum(values);
}

/** Splits a `sort` value into its field and direction. */
export function sortOrder<F extends string>(sort: SortValue<F>): { field: F; direction: 'asc' | 'desc' } {
  return sort.startsWith('-')
    ? { field: sort.slice(1) as F, direction: 'desc' }
    : { field: sort as F, direction: 'asc' };
}

/**
 * Text a person typed: trimmed, `min`..`max` characters, no control
 * characters (PostgreSQL refuses NUL in text, and the others only break
 * exports). `multiline` lets line breaks and tabs through, for addresses.
 */
export function PlainText(min: number, max: number, options: { multiline?: boolean } = {}) {
  // Plain ranges rather than \p{Cc}: a `u`-flag regex does not carry over into the OpenAPI `pattern`.
  /* eslint-disable no-control-regex -- finding control characters is the point */
  const allowed = options.multiline
    ? /^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$/
    : /^[^\u0000-\u001F\u007F-\u009F]*$/;
  /* eslint-enable no-control-regex */
  return z.string().trim().min(min).max(max).regex(allowed, 'must not contain control characters');
}

/** Free-text search of a list (`q`): matched case-insensitively as a substring; `%` and `_` are literal. */
export const SearchText = PlainText(1, 100);

/** A boolean query flag: exactly `true` or `false` (not JavaScript truthiness, where `'false'` is true). */
export const BooleanFlag = z.enum(['true', 'false']).transform((value) => value === 'true');

/**
 * A PATCH body must change something: `{}` is a 422 on `body`. Checked only
 * when the fields themselves are valid, so an unknown key is reported once, as
 * itself. The document says so with `minProperties: 1`.
 */
export function nonEmptyPatch<T extends z.ZodObject>(schema: T): T {
  return schema
    .refine((body) => Object.keys(body as object).length > 0, {
      message: 'send at least one field to change',
      when: (payload) => payload.issues.length === 0,
    })
    .meta({ ...NON_EMPTY_PATCH });
}

/** What the document says of every PATCH body: it names at least one field. */
export const NON_EMPTY_PATCH = {
  minProperties: 1,
  description: 'Send at least one field to change; `{}` is refused.',
} as const;
