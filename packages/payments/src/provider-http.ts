import { AppError } from '@bursar/contracts';

/** How long Bursar waits for a provider's REST API before giving up on the request. */
export const PROVIDER_TIMEOUT_MS = 10_000;

/** Display names, for errors a client may read. */
const NAMES = { razorpay: 'Razorpay', stripe: 'Stripe' } as const;

/** The provider's own words about a refusal, from either provider's error shape. */
function describeRefusal(text: string): string {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; type?: unknown; description?: unknown; message?: unknown };
    };
    const error = body.error ?? {};
    const kind =
      typeof error.code === 'string' ? error.code : typeof error.type === 'string' ? error.type : '';
    const words =
      typeof error.description === 'string'
        ? error.description
        : typeof error.message === 'string'
          ? error.message
          : '';
    return `${kind} ${words}`.trim().slice(0, 300) || 'no error body';
  } catch {
    return 'a body that is not JSON';
  }
}

/**
 * One JSON request to a provider's REST API. Whatever goes wrong on the
 * provider's side (unreachable, too slow, a refusal, an answer Bursar cannot
 * read) is an `AppError('service_unavailable')`, a 503: from the client's
 * side a dependency did not do its part, and nothing was created, so trying
 * again later is the right move. A refusal for bad credentials is one too:
 * the operator fixes the keys, the client cannot. The client-safe `detail`
 * names the provider only; the internal message (logs) adds the status and
 * the provider's error code and words. Neither ever carries the credentials,
 * which travel only in the `authorization` header.
 */
export async function callProvider(
  provider: keyof typeof NAMES,
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number = PROVIDER_TIMEOUT_MS,
): Promise<unknown> {
  const name = NAMES[provider];
  const path = new URL(url).pathname;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { accept: 'application/json', ...init.headers },
      body: init.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer in ${timeoutMs} ms`
        : 'unreachable';
    throw new AppError('service_unavailable', `${name} could not be reached; try again shortly`, {
      internal: `${name} POST ${path}: ${reason} (${error instanceof Error ? error.message : String(error)})`,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    const hint = response.status === 401 ? ' (check the API keys in the configuration)' : '';
    throw new AppError(
      'service_unavailable',
      `${name} refused to create the payment link; try again shortly`,
      {
        internal: `${name} POST ${path} answered ${response.status}: ${describeRefusal(text)}${hint}`,
      },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError(
      'service_unavailable',
      `${name} gave an answer Bursar cannot read; try again shortly`,
      {
        internal: `${name} POST ${path} answered ${response.status} with a body that is not JSON`,
      },
    );
  }
}

/** A provider answer that passed HTTP but not its schema: the same 503 as any other provider failure. */
export function unreadableAnswer(provider: keyof typeof NAMES, path: string, problem: string): AppError {
  const name = NAMES[provider];
  return new AppError('service_unavailable', `${name} gave an answer Bursar cannot read; try again shortly`, {
    internal: `${name} POST ${path}: unexpected answer (${problem})`,
  });
}
