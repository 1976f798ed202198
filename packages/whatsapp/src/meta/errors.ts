import { redactNumbers } from '../phone.js';
import { parseJson, retryAfterMs } from '../provider-http.js';
import type { FailedOutcome, PermanentReason, RateLimitScope } from '../provider.js';

/** What a Meta error code means for a send (and for a `failed` status carrying it). */
export type MetaErrorClass =
  | { kind: 'rate_limited'; scope: RateLimitScope }
  | { kind: 'permanent'; reason: PermanentReason }
  | { kind: 'transient' };

const rate = (scope: RateLimitScope): MetaErrorClass => ({ kind: 'rate_limited', scope });
const permanent = (reason: PermanentReason): MetaErrorClass => ({ kind: 'permanent', reason });
const transient: MetaErrorClass = { kind: 'transient' };

/**
 * Meta's Cloud API error codes (developers.facebook.com, WhatsApp "Error
 * codes"), by `error.code`. Meta asks callers to decide on the code, not the
 * HTTP status: its throttling errors are documented as HTTP 400, and the same
 * code can arrive synchronously or in a `failed` status webhook.
 */
const META_ERROR_CODES: ReadonlyMap<number, MetaErrorClass> = new Map([
  // --- Authorization: the token or the app's permissions; no message gets through until fixed.
  /** AuthException: the access token could not be authenticated (expired, revoked). HTTP 401. */
  [0, permanent('auth')],
  /** API Method: a capability or permission the app lacks. HTTP 500, but retrying cannot help. */
  [3, permanent('auth')],
  /** Permission denied: the permission was never granted or has been removed. HTTP 403. */
  [10, permanent('auth')],
  /** Access token has expired. HTTP 401. */
  [190, permanent('auth')],
  // (200–299, API Permission, are handled as a range below.)

  // --- Throttling.
  /** API Too Many Calls: the app's Graph API call-rate limit. */
  [4, rate('account')],
  /** Rate limit issues: the WhatsApp Business Account's rate limit. */
  [80007, rate('account')],
  /** Business use-case rate limit on the WhatsApp Business Account's Graph calls. */
  [80008, rate('account')],
  /** Rate limit hit: the business number's message throughput (80 mps by default). */
  [130429, rate('throughput')],
  /** Spam rate limit hit: the number's quality limits how much it may send; later, not faster. */
  [131048, rate('account')],
  /** (Business Account, Consumer Account) pair rate limit: too many to this one recipient. */
  [131056, rate('pair')],

  // --- The recipient.
  /** Message undeliverable: not on WhatsApp, an old client, or has not accepted the terms. */
  [131026, permanent('invalid_number')],
  /** Recipient phone number not in allowed list (a test number's five recipients). */
  [131030, permanent('invalid_number')],
  /** Recipient cannot be sender. */
  [131021, permanent('invalid_number')],
  /** Re-engagement message: more than 24 hours since the guardian last wrote; send a template. */
  [131047, permanent('outside_window')],
  /** Meta chose not to deliver (per-user marketing message limit); retrying soon does not help. */
  [131049, permanent('other')],
  /** The user stopped marketing messages from this business. */
  [131050, permanent('other')],
  /** The recipient is part of a Meta experiment that receives no business messages. */
  [130472, permanent('other')],

  // --- The request (a Bursar bug when it happens).
  /** Invalid parameter (a misspelled or unsupported field). */
  [100, permanent('other')],
  /** Required parameter is missing. */
  [131008, permanent('other')],
  /** Parameter value is not valid. */
  [131009, permanent('other')],
  /** Unsupported message type. */
  [131051, permanent('other')],
  /** Media download error: WhatsApp could not fetch the document link. */
  [131052, permanent('other')],
  /** Media upload error: the document link's content is not acceptable (type, size). */
  [131053, permanent('other')],

  // --- Templates.
  /** Number of parameters does not match the template's placeholders. */
  [132000, permanent('template')],
  /** Template does not exist (in this language), or is not approved. */
  [132001, permanent('template')],
  /** Hydrated text too long: the template with its parameters exceeds the length limit. */
  [132005, permanent('template')],
  /** Template format character policy violated. */
  [132007, permanent('template')],
  /** Parameter format does not match the template (a document for a text header, say). */
  [132012, permanent('template')],
  /** Template is paused for low quality. */
  [132015, permanent('template')],
  /** Template is disabled (paused too often). */
  [132016, permanent('template')],
  /** An issue with the parameters: a text parameter with a newline, a tab or more than four spaces in a row. */
  [132018, permanent('template')],

  // --- The business account itself: every send fails until an operator acts, as with auth.
  /** The business number was deleted. */
  [33, permanent('auth')],
  /** Temporarily blocked for policy violations. */
  [368, permanent('auth')],
  /** Business account locked. */
  [131031, permanent('auth')],
  /** Display name not approved. */
  [131037, permanent('auth')],
  /** Business eligibility payment issue (no valid payment method). */
  [131042, permanent('auth')],
  /** Incorrect certificate (the number's registration). */
  [131045, permanent('auth')],
  /** The business number is not registered on the Cloud API. */
  [133010, permanent('auth')],

  // --- Meta's side: try again later.
  /** API Unknown: possibly a server error. */
  [1, transient],
  /** API Service: downtime or overload. */
  [2, transient],
  /** Something went wrong. HTTP 500. */
  [131000, transient],
  /** Service unavailable. HTTP 503. */
  [131016, transient],
  /** Account in maintenance mode (a throughput upgrade in progress). */
  [131057, transient],
  /** Server temporarily unavailable. */
  [133004, transient],
]);

/** What a Meta error code means, or undefined for a code Bursar does not know. */
export function classifyMetaErrorCode(code: number): MetaErrorClass | undefined {
  const known = META_ERROR_CODES.get(code);
  if (known) return known;
  // API Permission: the permission was never granted or has been removed. HTTP 403.
  if (code >= 200 && code <= 299) return permanent('auth');
  return undefined;
}

/**
 * Meta's error shape: `{ error: { message, type, code, error_data: { details }, fbtrace_id } }`.
 * `message` already carries the title (`(#131026) Message undeliverable`).
 */
function readError(body: unknown): { code?: number; title: string } | undefined {
  if (!body || typeof body !== 'object' || !('error' in body)) return undefined;
  const error = (body as { error?: unknown }).error;
  if (!error || typeof error !== 'object') return undefined;
  const {
    code,
    message,
    error_data: data,
  } = error as {
    code?: unknown;
    message?: unknown;
    error_data?: { details?: unknown };
  };
  const details = data && typeof data.details === 'string' ? data.details : undefined;
  const words = [typeof message === 'string' ? message : undefined, details].filter(Boolean).join(': ');
  return {
    code: typeof code === 'number' && Number.isInteger(code) ? code : undefined,
    title: redactNumbers(words || 'no error message').slice(0, 300),
  };
}

/** Meta asks a sender to wait and retry a pair-limited recipient; it allows about one message every 6 s. */
const PAIR_RETRY_MS = 6_000;

/**
 * A refused Meta request as a send outcome, decided by `error.code` first and
 * by the HTTP status only for codes Bursar does not know (or a body that is
 * not Meta's): 429 rate-limited, 401/403 auth, 5xx and unreadable answers
 * transient, any other 4xx permanent.
 */
export function metaFailureOutcome(status: number, headers: Headers, text: string): FailedOutcome {
  const error = readError(parseJson(text));
  const retryAfter = retryAfterMs(headers);
  const code = error?.code;
  const title = error?.title ?? `HTTP ${status} with a body that is not Meta's error`;
  const known = code !== undefined ? classifyMetaErrorCode(code) : undefined;
  const codeText = code !== undefined ? String(code) : `http_${status}`;
  const klass: MetaErrorClass =
    known ??
    (status === 429
      ? rate('throughput')
      : status === 401 || status === 403
        ? permanent('auth')
        : status >= 500 || !error
          ? transient
          : permanent('other'));
  switch (klass.kind) {
    case 'rate_limited': {
      const wait = retryAfter ?? (klass.scope === 'pair' ? PAIR_RETRY_MS : undefined);
      return {
        kind: 'rate_limited',
        scope: klass.scope,
        code: codeText,
        ...(wait !== undefined ? { retryAfterMs: wait } : {}),
      };
    }
    case 'permanent':
      return { kind: 'permanent', code: codeText, title, reason: klass.reason };
    case 'transient':
      return { kind: 'transient', code: codeText, title };
  }
}
