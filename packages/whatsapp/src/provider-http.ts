import type { FailedOutcome } from './provider.js';

/** How long Bursar waits for a provider's API before calling the attempt transient. */
export const PROVIDER_TIMEOUT_MS = 10_000;

/** The `fetch` the adapters call: the global one unless a caller passes another (a proxy agent, a test double). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What one request to a provider came to, before any provider-specific reading. */
export type HttpResult =
  | { kind: 'answer'; status: number; headers: Headers; text: string }
  | { kind: 'timeout'; timeoutMs: number }
  | { kind: 'unreachable'; cause: string };

/** The low-level reason a request failed (`ECONNREFUSED`), never its URL or body. */
function causeOf(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * One POST to a provider, once: no retries (the queue retries with its own
 * backoff, and a retry here would double the attempts it counts). Network
 * failures and timeouts come back as values, so the adapters turn them into
 * `transient` outcomes instead of exceptions whose messages could carry the
 * request.
 */
export async function postToProvider(
  fetchImpl: FetchLike,
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number = PROVIDER_TIMEOUT_MS,
): Promise<HttpResult> {
  try {
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { accept: 'application/json', ...init.headers },
      body: init.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Read inside the same try: a body that stalls past the timeout is a timeout too.
    const text = await response.text();
    return { kind: 'answer', status: response.status, headers: response.headers, text };
  } catch (error) {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
      return { kind: 'timeout', timeoutMs };
    return { kind: 'unreachable', cause: causeOf(error) };
  }
}

/**
 * Failures that happen before a request can have left: no connection was made
 * (refused, no route, the name did not resolve, the connect itself timed out).
 */
const NOT_SENT_CAUSES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * A request that got no answer, as a send outcome: `transient` (the queue
 * tries again) only when it cannot have reached the provider; a timeout or a
 * connection lost afterwards is `unknown` — the provider may have taken the
 * message.
 */
export function transportOutcome(result: Exclude<HttpResult, { kind: 'answer' }>): FailedOutcome {
  if (result.kind === 'timeout')
    return { kind: 'unknown', code: 'timeout', title: `no answer in ${result.timeoutMs} ms` };
  if (NOT_SENT_CAUSES.has(result.cause))
    return { kind: 'transient', code: 'unreachable', title: `provider unreachable (${result.cause})` };
  return {
    kind: 'unknown',
    code: 'connection_lost',
    title: `no answer: the connection failed (${result.cause})`,
  };
}

/** `Retry-After` (seconds or an HTTP date) in milliseconds, when the provider sent one. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** JSON, or undefined when the text is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
