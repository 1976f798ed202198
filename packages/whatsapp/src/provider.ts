/**
 * The WhatsApp provider layer as Bursar's notify service and send queues see
 * it: one adapter interface over Meta's WhatsApp Cloud API and Gupshup, one
 * outcome type for a send, and one event type for whatever either provider's
 * webhooks report. Provider-specific shapes stay in `meta/` and `gupshup/`.
 */

/** The two real providers behind the adapter interface. */
export type WhatsAppProviderName = 'meta' | 'gupshup';

/** An approved template message to one recipient. */
export interface TemplateMessage {
  /** The recipient in E.164 (`+919876543210`); see `toE164`. */
  to: string;
  template: {
    /** The template's name as submitted (`fee_reminder`). */
    name: string;
    /** The template's language code as submitted (`en`, `en_US`, `hi`). */
    language: string;
    /**
     * The provider's own id of the template. Gupshup sends templates by id,
     * not by name, so the Gupshup adapter requires it; Meta ignores it.
     */
    providerTemplateId?: string;
  };
  /** The body's `{{1}}`, `{{2}}`… in order. */
  bodyParams: string[];
  /** A document header (an invoice or receipt PDF), for templates submitted with one. */
  document?: { url: string; filename: string };
  /**
   * Bursar's id of this message, for reconciliation. Meta echoes it in status
   * webhooks (`biz_opaque_callback_data`); Gupshup's API has no such field, so
   * there only the provider message id links a callback to the message.
   */
  clientReference: string;
}

/** A free-text message: only inside the 24-hour window that a guardian's own message opens. */
export interface TextMessage {
  /** The recipient in E.164. */
  to: string;
  text: string;
  /** Bursar's id of this message; see `TemplateMessage.clientReference`. */
  clientReference: string;
}

/**
 * Why a send can never succeed as it is, so the queue fails it rather than
 * retrying: `invalid_number` (not on WhatsApp, or not a number), `outside_window`
 * (free text more than 24 hours after the guardian's last message: send a
 * template), `template` (unknown, paused, or its parameters do not fit),
 * `auth` (the credentials or the business account itself: every message will
 * fail until an operator acts, so the queue should pause rather than burn
 * through its backlog), `other` (a request the provider refuses for another
 * reason, usually a Bursar bug).
 */
export type PermanentReason = 'invalid_number' | 'outside_window' | 'template' | 'auth' | 'other';

/**
 * Which limit a rate-limited send hit: `throughput` (messages per second from
 * the business number), `pair` (too many to the same recipient: others may be
 * sent at once), `account` (the app's or the business account's call limit).
 */
export type RateLimitScope = 'throughput' | 'pair' | 'account';

/**
 * What became of a send. Provider answers are always an outcome, never an
 * exception; `code` is the provider's error code as a string (Meta's numeric
 * `error.code`, Gupshup's code when it sends one, else `http_<status>`), and
 * `title` the provider's words with any phone number blanked out.
 */
export type SendOutcome =
  | { kind: 'accepted'; providerMessageId: string }
  | { kind: 'rate_limited'; retryAfterMs?: number; scope: RateLimitScope; code: string }
  | { kind: 'permanent'; code: string; title: string; reason: PermanentReason }
  /** 5xx answers, a provider that could not be reached at all: it has not got the message; try again later. */
  | { kind: 'transient'; code?: string; title: string }
  /**
   * The request may have reached the provider, but nothing says what became of
   * it: no answer in time, the connection cut once the request was on its way,
   * a 2xx without a message id. The message may exist, so sending it again
   * could message the guardian twice: it waits for the provider's status
   * webhook, as a send cut off by a crash does.
   */
  | { kind: 'unknown'; code: string; title: string };

/** Every outcome but `accepted`: what a refusal or a failed attempt comes to. */
export type FailedOutcome = Exclude<SendOutcome, { kind: 'accepted' }>;

/** A template Bursar asks the provider to approve. */
export interface TemplateSubmission {
  /** Lower case letters, digits and underscores, as Meta requires. */
  name: string;
  language: string;
  category: 'UTILITY' | 'MARKETING' | 'AUTHENTICATION';
  /** The body with `{{1}}`, `{{2}}`… placeholders. */
  bodyText: string;
  /** One example value per placeholder, in order (Meta refuses a template with variables but no example). */
  bodyExample: string[];
  /**
   * A document header. Meta wants a sample file for media headers, given as a
   * handle from its Resumable Upload API (`4::…`), which this package does not
   * call: upload the sample once and pass the handle here.
   */
  documentHeader?: { exampleHandle: string };
}

/**
 * A template's review state, normalised from Meta's events: `approved`
 * (APPROVED, REINSTATED), `pending` (PENDING, IN_APPEAL), `rejected`,
 * `paused` (low quality, temporarily unusable), `disabled` (DISABLED,
 * ARCHIVED, LIMIT_EXCEEDED), `flagged` (quality warning, still usable),
 * `deleted` (DELETED, PENDING_DELETION).
 */
export type TemplateStatus =
  'approved' | 'pending' | 'rejected' | 'paused' | 'disabled' | 'flagged' | 'deleted';

/**
 * One WhatsApp provider as Bursar uses it. `sendTemplate` and `sendText`
 * resolve to a `SendOutcome` whatever the provider answers (or fails to
 * answer); they throw only for programming errors. Nothing is retried inside:
 * the queue owns retries and backoff.
 */
export interface WhatsAppProvider {
  name: WhatsAppProviderName;
  sendTemplate(message: TemplateMessage): Promise<SendOutcome>;
  sendText(message: TextMessage): Promise<SendOutcome>;
  /** Submits a template for review (Meta only). Throws `WhatsAppProviderError` when refused. */
  submitTemplate?(
    template: TemplateSubmission,
  ): Promise<{ providerTemplateId: string; status: TemplateStatus }>;
}

/**
 * A message's delivery state. Meta never reports `queued`; Gupshup's
 * `enqueued` (accepted by Gupshup, not yet by WhatsApp) is `queued`. See
 * `furthestStatus` for how they order.
 */
export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'failed';

/** A delivery report for a message Bursar sent. */
export interface StatusEvent {
  kind: 'status';
  /** The id the send answered with (`accepted.providerMessageId`). */
  providerMessageId: string;
  status: MessageStatus;
  at: Date;
  /** For `failed`: the provider's error code as a string. */
  errorCode?: string;
  errorTitle?: string;
  /** The recipient in E.164. */
  recipient: string;
  /** `TemplateMessage.clientReference` as Meta echoes it (never for Gupshup). */
  clientReference?: string;
}

/** A message from a guardian (a reply, "STOP", a button press). */
export interface InboundEvent {
  kind: 'inbound';
  providerMessageId: string;
  /** The guardian's number in E.164 (with `+`). */
  from: string;
  /**
   * The text of a text message, the label of a pressed button or list item,
   * the caption of media; empty for anything else (a sticker, a location). Any
   * inbound message opens the 24-hour window, so none is dropped.
   */
  text: string;
  /** The provider's message type (`text`, `button`, `interactive`, `image`…). */
  messageType: string;
  at: Date;
  /** Meta: the business phone number id it was sent to. Gupshup: the app name. */
  businessNumberId: string;
}

/** A template's review result. */
export interface TemplateEvent {
  kind: 'template';
  providerTemplateId: string;
  name: string;
  language: string;
  status: TemplateStatus;
  /** Why, when the provider says (a rejection reason); absent for Meta's `NONE`. */
  reason?: string;
}

/** What a provider webhook reports, normalised across providers. */
export type WhatsAppEvent = StatusEvent | InboundEvent | TemplateEvent;

/**
 * A webhook body that is not the shape the provider documents. The receiver
 * answers 400 problem+json: the provider will not send a different body if
 * asked again. The message names what is wrong, never a value from the body
 * (which holds phone numbers).
 */
export class WhatsAppWebhookError extends Error {
  constructor(
    readonly provider: WhatsAppProviderName,
    message: string,
  ) {
    super(`${provider === 'meta' ? 'Meta' : 'Gupshup'} webhook: ${message}`);
    this.name = 'WhatsAppWebhookError';
  }
}

/**
 * A provider refused an administrative call (a template submission). Carries
 * the same classification as a refused send, without the request's content.
 */
export class WhatsAppProviderError extends Error {
  constructor(
    readonly provider: WhatsAppProviderName,
    readonly outcome: FailedOutcome,
    operation: string,
  ) {
    super(
      `${provider === 'meta' ? 'Meta' : 'Gupshup'} ${operation}: ${outcome.kind}` +
        `${outcome.code !== undefined ? ` ${outcome.code}` : ''}` +
        `${'title' in outcome ? ` (${outcome.title})` : ''}`,
    );
    this.name = 'WhatsAppProviderError';
  }
}
