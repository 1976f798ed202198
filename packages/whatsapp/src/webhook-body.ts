import type { z } from 'zod';
import { WhatsAppWebhookError, type WhatsAppProviderName } from './provider.js';

/**
 * The first few problems of a failed parse as `path: message`. zod's messages
 * name what was expected, never the value found, so no phone number from a
 * webhook body reaches the error.
 */
function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map(
      (issue) =>
        `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${issue.message}`,
    )
    .join('; ');
}

/**
 * A value from a webhook body read against `schema`, or a
 * `WhatsAppWebhookError` naming the paths that are wrong (under `prefix`, the
 * value's place in the body): a body that is not the provider's shape never
 * will be, so the receiver answers 400 rather than asking for it again.
 */
export function readWebhookPart<S extends z.ZodType>(
  provider: WhatsAppProviderName,
  schema: S,
  value: unknown,
  prefix = '',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new WhatsAppWebhookError(provider, `body does not parse (${describeIssues(result.error, prefix)})`);
  return result.data;
}

/** The raw body as JSON read against `schema` (see `readWebhookPart`); not JSON is a `WhatsAppWebhookError` too. */
export function parseWebhookBody<S extends z.ZodType>(
  provider: WhatsAppProviderName,
  schema: S,
  rawBody: Buffer | string,
): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw new WhatsAppWebhookError(provider, 'body is not JSON');
  }
  return readWebhookPart(provider, schema, json);
}
