import { z } from 'zod';
import type { PaymentNotes } from './types.js';

/**
 * A webhook body read against the provider's documented shape. Throws an Error
 * naming the provider and what is wrong: a body that is not that shape never
 * will be, so callers fail it at once rather than retry.
 */
export function parseProviderBody<S extends z.ZodType>(
  provider: 'Razorpay' | 'Stripe',
  schema: S,
  rawBody: Buffer | string,
): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw new Error(`${provider} event body is not JSON`);
  }
  const result = schema.safeParse(json);
  if (!result.success) throw new Error(`${provider} event does not parse: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** The ids Bursar wrote into notes/metadata, as non-empty strings; anything else there is not ours. */
export function pickNotes(value: Record<string, unknown> | null | undefined): PaymentNotes {
  const notes: PaymentNotes = {};
  for (const key of ['invoiceId', 'schoolId', 'invoiceNumber'] as const) {
    const found = value?.[key];
    if (typeof found === 'string' && found !== '') notes[key] = found;
  }
  return notes;
}

/** An integer amount in minor units, as both providers send it, read as bigint. */
export const MinorAmount = z
  .number()
  .int()
  .transform((value) => BigInt(value));
