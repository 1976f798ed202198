/** Which provider API a request or webhook of the sandbox speaks. */
export type SandboxApi = 'meta' | 'gupshup';

/** A status the sandbox reports for an accepted message, in its plan's order. */
export type PlannedStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** A message the sandbox accepted, as it read it from Bursar's request. */
export interface ReceivedMessage {
  api: SandboxApi;
  /** What the send answered with: `wamid.…` (Meta) or Gupshup's message id (a UUID). */
  providerMessageId: string;
  /** The recipient in E.164. */
  to: string;
  type: 'template' | 'text';
  /** Meta names templates (`name`, `language`); Gupshup by `id` (name and language filled in when the sandbox knows it). */
  template?: { name?: string; language?: string; id?: string };
  /** The body parameters, in order (empty for text). */
  params: string[];
  document?: { url: string; filename?: string };
  text?: string;
  /** Meta's `biz_opaque_callback_data`, when sent. */
  clientReference?: string;
  receivedAt: Date;
  /** The statuses whose webhooks the sandbox has sent so far, in the order sent. */
  statuses: PlannedStatus[];
}

/** A template the sandbox knows: seeded through the options or submitted through Meta's API. */
export interface SandboxTemplate {
  id: string;
  name: string;
  language: string;
  category: string;
  bodyText: string;
  /** How many `{{n}}` the body has: a send must give exactly as many parameters. */
  placeholders: number;
  documentHeader: boolean;
  status: 'APPROVED';
  submittedAt: Date;
}

/**
 * A fault the sandbox answers sends with instead of accepting them:
 * `429` (Meta's 130429 throughput error, Gupshup's 429), `5xx` (500 or 503),
 * `invalid_number` (Meta's 131026, Gupshup's "Invalid Destination"),
 * `timeout` (the answer never comes). It applies to the next `count` sends
 * (default 1), or to every send for `forMs`, or both (whichever ends first);
 * with `numbers`, only to sends to those E.164 numbers.
 */
export interface SandboxFault {
  kind: '429' | '5xx' | 'invalid_number' | 'timeout';
  count?: number;
  forMs?: number;
  numbers?: string[];
  /**
   * The HTTP status to answer with. Meta documents its throttling errors as
   * HTTP 400 and that is the default for `429`; 429 may be asked for, as some
   * Graph versions and proxies send it. For `5xx`: 500 (Meta's 131000, the
   * default), 503 (131016) or 502 (an HTML page, as a proxy in front answers).
   */
  httpStatus?: number;
}

/** One webhook the sandbox sent (or tried to), for tests and the page. */
export interface WebhookDelivery {
  api: SandboxApi;
  kind: 'status' | 'inbound' | 'template';
  /** The URL without its query (Gupshup callback URLs carry a token there). */
  url: string;
  /** The last HTTP status the receiver answered; null when it could not be reached. */
  status: number | null;
  attempts: number;
  /** Why the last attempt failed, when it did. */
  error?: string;
  /** The exact body sent (and signed). */
  body: string;
  sentAt: Date;
}

/** An answer to a provider API request: a status and a JSON (or, for a proxy's page, text) body. */
export interface SandboxAnswer {
  status: number;
  body: unknown;
  contentType?: string;
}
