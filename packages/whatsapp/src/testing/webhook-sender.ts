import { setTimeout as delay } from 'node:timers/promises';

/** How one webhook delivery ended, after its retries. */
export interface SendResult {
  status: number | null;
  attempts: number;
  error?: string;
}

/** How the sandbox retries a webhook the receiver did not take. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The wait before the first retry; each later one waits twice as long. */
  baseDelayMs: number;
  /** How long one attempt may take. */
  timeoutMs: number;
}

/**
 * POSTs one webhook body, retrying with exponential backoff while the
 * receiver is unreachable or answers anything but 2xx, as Meta and Gupshup
 * retry (theirs over hours; the sandbox's over a second or so). Never throws:
 * a refused connection is a result, so a sandbox whose receiver is down keeps
 * running. `signal` (the sandbox closing or being reset) stops it between
 * attempts and cancels one in flight.
 */
export async function sendWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: RetryPolicy,
  signal: AbortSignal,
): Promise<SendResult> {
  let last: SendResult = { status: null, attempts: 0 };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (signal.aborted) return { ...last, error: 'cancelled' };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(policy.timeoutMs)]),
      });
      await response.arrayBuffer();
      last = { status: response.status, attempts: attempt };
      if (response.ok) return last;
      last.error = `answered ${response.status}`;
    } catch (error) {
      const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
      last = {
        status: null,
        attempts: attempt,
        error: typeof cause?.code === 'string' ? cause.code : error instanceof Error ? error.name : 'failed',
      };
    }
    if (attempt < policy.attempts) {
      try {
        await delay(policy.baseDelayMs * 2 ** (attempt - 1), undefined, { signal });
      } catch {
        return { ...last, error: 'cancelled' };
      }
    }
  }
  return last;
}
