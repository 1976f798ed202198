import { z } from 'zod';

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
