import { classifyMetaErrorCode, type MetaErrorClass } from '../meta/errors.js';
import { redactNumbers } from '../phone.js';
import { parseJson, retryAfterMs } from '../provider-http.js';
import type { FailedOutcome } from '../provider.js';

/** What a Gupshup error code means; the same classes as Meta's. */
export type GupshupErrorClass = MetaErrorClass;

/**
 * Gupshup's own codes, as its `failed` message events carry them
 * (partner-docs.gupshup.io, "Error codes"). Gupshup passes Meta's codes
 * through as well (131026, 131047…); those are read with Meta's table.
 */
const GUPSHUP_ERROR_CODES: ReadonlyMap<number, GupshupErrorClass> = new Map<number, GupshupErrorClass>([
  /** Internal server error. */
  [500, { kind: 'transient' }],
  /** Last mapped bot details and sender details mismatch (the app's configuration). */
  [1001, { kind: 'permanent', reason: 'auth' }],
  /** Number does not exist on WhatsApp. */
  [1002, { kind: 'permanent', reason: 'invalid_number' }],
  /** Wallet balance low: nothing is sent until the account is topped up. */
  [1003, { kind: 'permanent', reason: 'auth' }],
  /** User inactive for session messages and template messaging disabled. */
  [1004, { kind: 'permanent', reason: 'outside_window' }],
  /** User inactive for session messages and the template did not match. */
  [1005, { kind: 'permanent', reason: 'template' }],
  /** User inactive for session messages and not opted in for templates. */
  [1006, { kind: 'permanent', reason: 'outside_window' }],
  /** Not opted in, inactive, and the template did not match. */
  [1007, { kind: 'permanent', reason: 'template' }],
  /** User neither proxied nor opted in, and inactive. */
  [1008, { kind: 'permanent', reason: 'outside_window' }],
  /** Invalid media URL (the document link). */
  [1010, { kind: 'permanent', reason: 'other' }],
  /** Invalid media size. */
  [1011, { kind: 'permanent', reason: 'other' }],
  /** The number opted out (on Gupshup's side). */
  [1012, { kind: 'permanent', reason: 'other' }],
  /** API rate limited. */
  [4001, { kind: 'rate_limited', scope: 'throughput' }],
  /** Invalid response from WhatsApp. */
  [4002, { kind: 'transient' }],
]);

/** What a code in a Gupshup `failed` event means (Gupshup's table, then Meta's), or undefined. */
export function classifyGupshupErrorCode(code: number): GupshupErrorClass | undefined {
  return GUPSHUP_ERROR_CODES.get(code) ?? (code >= 100_000 ? classifyMetaErrorCode(code) : undefined);
}

/**
 * A refused Gupshup send as an outcome. Gupshup's synchronous errors are
 * `{ status: "error", message }` without a code, so the HTTP status decides:
 * 429 rate-limited, 401/403 auth, 5xx transient; a 4xx is permanent, its
 * reason read from Gupshup's words (an invalid destination, a template
 * problem) and `other` otherwise.
 */
export function gupshupFailureOutcome(status: number, headers: Headers, text: string): FailedOutcome {
  const body = parseJson(text) as { status?: unknown; message?: unknown } | undefined;
  const words = body && typeof body.message === 'string' ? body.message : undefined;
  const title = redactNumbers(words ?? `HTTP ${status} with a body that is not Gupshup's error`).slice(
    0,
    300,
  );
  const code = `http_${status}`;
  if (status === 429) {
    const wait = retryAfterMs(headers);
    return {
      kind: 'rate_limited',
      scope: 'throughput',
      code,
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  }
  if (status === 401 || status === 403) return { kind: 'permanent', code, title, reason: 'auth' };
  if (status >= 500 || words === undefined) return { kind: 'transient', code, title };
  const reason = /destination|phone|number/i.test(words)
    ? 'invalid_number'
    : /template/i.test(words)
      ? 'template'
      : 'other';
  return { kind: 'permanent', code, title, reason };
}
