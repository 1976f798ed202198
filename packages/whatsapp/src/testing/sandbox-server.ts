import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { WHATSAPP_SANDBOX_CREDENTIALS } from '../config.js';
import { signMetaWebhook } from '../meta/webhook.js';
import { E164 } from '../phone.js';
import { sameSecret } from '../secret.js';
import {
  gupshupError,
  gupshupInboundCallback,
  gupshupStatusCallback,
  gupshupWhatsAppId,
  readGupshupForm,
} from './sandbox-gupshup.js';
import {
  BAD_PARAMETER_TEXT,
  MetaSendBody,
  MetaTemplateSubmission,
  metaError,
  metaInboundWebhook,
  metaStatusWebhook,
  metaTemplateWebhook,
  metaUnauthorized,
  metaUnknownObject,
  placeholdersOf,
  templateSubmissionProblem,
  wamid,
  type MetaIdentity,
} from './sandbox-meta.js';
import { renderSandboxPage } from './sandbox-page.js';
import type {
  PlannedStatus,
  ReceivedMessage,
  SandboxAnswer,
  SandboxApi,
  SandboxFault,
  SandboxTemplate,
  WebhookDelivery,
} from './sandbox-types.js';
import { sendWebhook, type RetryPolicy } from './webhook-sender.js';

/** A template the sandbox knows from the start (Gupshup sends name templates by `id`). */
export interface SeedTemplate {
  id?: string;
  name: string;
  language: string;
  bodyText: string;
  category?: string;
  documentHeader?: boolean;
}

/** How to start the sandbox. Every credential defaults to `WHATSAPP_SANDBOX_CREDENTIALS`, as the config does. */
export interface WhatsAppSandboxOptions {
  /** Default 0: an ephemeral port (tests); `pnpm start` passes a fixed one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where Meta-style webhooks (statuses, inbound messages, template reviews) are POSTed, signed with `appSecret`. */
  webhookUrl?: string;
  /** Where Gupshup-style callbacks are POSTed (include the callback token in its query, as registered with Gupshup). */
  gupshupCallbackUrl?: string;
  /** The app secret Meta-style webhooks are signed with (`X-Hub-Signature-256`). */
  appSecret?: string;
  /** The wait before each status webhook, in ms (default 10). */
  statusDelayMs?: number;
  /** The statuses reported for each accepted message, in order (default sent, delivered, read). */
  statuses?: PlannedStatus[];
  /** Report them in a random order, to test a receiver against out-of-order webhooks. */
  shuffleStatuses?: boolean;
  accessToken?: string;
  phoneNumberId?: string;
  businessAccountId?: string;
  /** The business number as Meta's webhooks show it (digits). */
  displayPhoneNumber?: string;
  gupshupApiKey?: string;
  gupshupAppName?: string;
  gupshupSourceNumber?: string;
  /**
   * Recipients that are "not on WhatsApp" (default `+1555000…`): Meta's API
   * refuses them with 131026; Gupshup's accepts them and reports `failed`
   * (code 1002), as Gupshup does.
   */
  invalidNumberPrefixes?: string[];
  templates?: SeedTemplate[];
  /** Refuse templates the sandbox does not know (Meta's 132001), instead of accepting any name. */
  strictTemplates?: boolean;
  /** How webhooks are retried (default 4 attempts, 100 ms doubling, 5 s each). */
  webhookRetry?: Partial<RetryPolicy>;
}

/** A running sandbox: its URL, what it received, and the knobs tests turn. */
export interface WhatsAppSandbox {
  /** The base URL to point `WHATSAPP_API_BASE` (or an adapter's `baseUrl`) at. */
  url: string;
  /** Stops listening, cancels pending webhooks and drops held (timed-out) requests. */
  close(): Promise<void>;
  /** Every message accepted since the start or the last `reset`, oldest first. */
  received(): ReceivedMessage[];
  /** The templates the sandbox knows. */
  templates(): SandboxTemplate[];
  /** Every webhook sent (or attempted), oldest first. */
  deliveries(): WebhookDelivery[];
  /** Forgets messages, deliveries, faults and submitted templates; cancels pending webhooks; restores the status plan. */
  reset(): void;
  /** Answers sends with a fault (see `SandboxFault`); faults queue up, the first that applies wins. */
  setFault(fault: SandboxFault): void;
  /** `setFault({ kind, count })`. */
  failNext(kind: SandboxFault['kind'], count?: number): void;
  clearFaults(): void;
  /** Changes the statuses reported for messages accepted from now on. */
  setStatusPlan(plan: { statuses?: PlannedStatus[]; shuffle?: boolean }): void;
  /**
   * A guardian writes (`STOP`, a reply): POSTs an inbound-message webhook,
   * Meta-style and signed (default when `webhookUrl` is set) or Gupshup-style.
   * Resolves when the receiver answered (after retries).
   */
  deliverInbound(from: string, text: string, options?: { api?: SandboxApi }): Promise<WebhookDelivery>;
  /** Resolves once every scheduled webhook has been sent (or given up on). */
  idle(): Promise<void>;
}

const MAX_BODY_BYTES = 1_048_576;
const DEFAULT_STATUSES: PlannedStatus[] = ['sent', 'delivered', 'read'];

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function respond(res: ServerResponse, answer: SandboxAnswer): void {
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': answer.contentType ?? 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** What a proxy in front of a provider answers when the provider is down: HTML, not the provider's JSON. */
const BAD_GATEWAY: SandboxAnswer = {
  status: 502,
  body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
  contentType: 'text/html',
};

/** A numeric template id of Meta's length (15 digits). */
function templateId(): string {
  return `${randomInt(1, 10)}${String(randomInt(0, 10 ** 14)).padStart(14, '0')}`;
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function jsonOrUndefined(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The first problems of a failed zod parse, as Meta's `details` would name them. */
function issuesText(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Starts a fake WhatsApp provider that speaks both Meta's Cloud API and
 * Gupshup's, over real HTTP: it checks credentials and request bodies as
 * strictly as the providers (a Bursar bug fails here, with the provider's
 * error), records what it accepts, answers faults on demand, and sends the
 * providers' own webhooks back (statuses after each accepted message, a
 * template's approval, a guardian's reply), signed as Meta signs them and
 * retried as providers retry. A page at `/` shows what it received;
 * `/_sandbox/messages` gives the same as JSON. Dependency-free (`node:http`).
 */
export async function startWhatsAppSandbox(options: WhatsAppSandboxOptions = {}): Promise<WhatsAppSandbox> {
  const credentials = {
    accessToken: options.accessToken ?? WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_ACCESS_TOKEN,
    appSecret: options.appSecret ?? WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_APP_SECRETS,
    gupshupApiKey: options.gupshupApiKey ?? WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_API_KEY,
    gupshupAppName: options.gupshupAppName ?? WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_APP_NAME,
    gupshupSourceNumber: options.gupshupSourceNumber ?? WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_SOURCE_NUMBER,
  };
  const identity: MetaIdentity = {
    phoneNumberId: options.phoneNumberId ?? WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_PHONE_NUMBER_ID,
    businessAccountId: options.businessAccountId ?? WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_BUSINESS_ACCOUNT_ID,
    displayPhoneNumber: options.displayPhoneNumber ?? credentials.gupshupSourceNumber.replace(/^\+/, ''),
  };
  const statusDelayMs = options.statusDelayMs ?? 10;
  const invalidPrefixes = options.invalidNumberPrefixes ?? ['+1555000'];
  const retry: RetryPolicy = { attempts: 4, baseDelayMs: 100, timeoutMs: 5_000, ...options.webhookRetry };
  const seeded = (): SandboxTemplate[] =>
    (options.templates ?? []).map((seed) => ({
      id: seed.id ?? templateId(),
      name: seed.name,
      language: seed.language,
      category: seed.category ?? 'UTILITY',
      bodyText: seed.bodyText,
      placeholders: placeholdersOf(seed.bodyText).length,
      documentHeader: seed.documentHeader ?? false,
      status: 'APPROVED',
      submittedAt: new Date(),
    }));

  let messages: ReceivedMessage[] = [];
  let deliveries: WebhookDelivery[] = [];
  let templates = seeded();
  let faults: { fault: SandboxFault; remaining: number; until: number }[] = [];
  let plan = { statuses: options.statuses ?? DEFAULT_STATUSES, shuffle: options.shuffleStatuses ?? false };
  let generation = new AbortController();
  const pending = new Set<Promise<unknown>>();
  const held = new Set<ServerResponse>();

  function track<T>(work: Promise<T>): Promise<T> {
    pending.add(work);
    void work.finally(() => pending.delete(work));
    return work;
  }

  function takeFault(to: string): SandboxFault | undefined {
    const now = Date.now();
    faults = faults.filter((entry) => entry.remaining > 0 && now <= entry.until);
    const entry = faults.find(
      (candidate) => !candidate.fault.numbers || candidate.fault.numbers.includes(to),
    );
    if (!entry) return undefined;
    entry.remaining -= 1;
    return entry.fault;
  }

  function setFault(fault: SandboxFault): void {
    const count = fault.count ?? (fault.forMs !== undefined ? Number.POSITIVE_INFINITY : 1);
    const until = fault.forMs !== undefined ? Date.now() + fault.forMs : Number.POSITIVE_INFINITY;
    faults.push({ fault, remaining: count, until });
  }

  const isInvalid = (to: string) => invalidPrefixes.some((prefix) => to.startsWith(prefix));

  async function deliver(
    api: SandboxApi,
    kind: WebhookDelivery['kind'],
    payload: object,
    signal: AbortSignal,
  ): Promise<WebhookDelivery> {
    const target = api === 'meta' ? options.webhookUrl : options.gupshupCallbackUrl;
    if (!target)
      throw new Error(`the sandbox has no ${api === 'meta' ? 'webhookUrl' : 'gupshupCallbackUrl'}`);
    const body = JSON.stringify(payload);
    const headers: Record<string, string> =
      api === 'meta'
        ? {
            'x-hub-signature-256': signMetaWebhook(body, credentials.appSecret),
            'user-agent': 'facebookexternalua',
          }
        : { 'user-agent': 'bursar-whatsapp-sandbox (gupshup)' };
    const sentAt = new Date();
    const result = await sendWebhook(target, body, headers, retry, signal);
    const url = new URL(target);
    const delivery: WebhookDelivery = {
      api,
      kind,
      url: `${url.origin}${url.pathname}`,
      status: result.status,
      attempts: result.attempts,
      ...(result.error && result.status !== 200 ? { error: result.error } : {}),
      body,
      sentAt,
    };
    if (!signal.aborted) deliveries.push(delivery);
    return delivery;
  }

  /** Sends each planned status of `message` after `statusDelayMs`, one after the other. */
  function scheduleStatuses(
    message: ReceivedMessage,
    statuses: PlannedStatus[],
    whatsappMessageId?: string,
  ): void {
    const url = message.api === 'meta' ? options.webhookUrl : options.gupshupCallbackUrl;
    if (!url) return;
    const { signal } = generation;
    track(
      (async () => {
        const steps: (PlannedStatus | 'enqueued')[] =
          message.api === 'gupshup' ? ['enqueued', ...statuses] : statuses;
        for (const status of steps) {
          try {
            await delay(statusDelayMs, undefined, { signal });
          } catch {
            return;
          }
          if (status !== 'enqueued') message.statuses.push(status);
          const payload =
            message.api === 'meta'
              ? metaStatusWebhook(identity, message, status as PlannedStatus)
              : gupshupStatusCallback(credentials.gupshupAppName, message, whatsappMessageId!, status);
          await deliver(message.api, 'status', payload, signal);
        }
      })(),
    );
  }

  function nextStatuses(): PlannedStatus[] {
    return plan.shuffle ? shuffled(plan.statuses) : [...plan.statuses];
  }

  function metaFault(fault: SandboxFault): SandboxAnswer | 'hold' {
    switch (fault.kind) {
      case '429':
        return metaError(
          fault.httpStatus ?? 400,
          130429,
          'Rate limit hit',
          'Cloud API message throughput has been reached.',
        );
      case '5xx':
        if (fault.httpStatus === 502) return BAD_GATEWAY;
        return fault.httpStatus === 503
          ? metaError(503, 131016, 'Service unavailable', 'A service is temporarily unavailable.')
          : metaError(
              fault.httpStatus ?? 500,
              131000,
              'Something went wrong',
              'Message failed to send because of an unknown error.',
            );
      case 'invalid_number':
        return metaError(400, 131026, 'Message undeliverable', 'Message Undeliverable.');
      case 'timeout':
        return 'hold';
    }
  }

  function gupshupFault(fault: SandboxFault): SandboxAnswer | 'hold' {
    switch (fault.kind) {
      case '429':
        return gupshupError(fault.httpStatus ?? 429, 'Too Many Requests');
      case '5xx':
        if (fault.httpStatus === 502) return BAD_GATEWAY;
        return fault.httpStatus === 503
          ? gupshupError(503, 'Service Unavailable')
          : gupshupError(fault.httpStatus ?? 500, 'Internal Server Error');
      case 'invalid_number':
        return gupshupError(400, 'Invalid Destination');
      case 'timeout':
        return 'hold';
    }
  }

  const findTemplate = (name: string, language: string) =>
    templates.find((template) => template.name === name && template.language === language);

  function metaAuthorized(req: IncomingMessage): boolean {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return Boolean(match && sameSecret(match[1]!, credentials.accessToken));
  }

  function metaJson(
    req: IncomingMessage,
    body: Buffer,
  ): { ok: true; value: unknown } | { ok: false; answer: SandboxAnswer } {
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json'))
      return {
        ok: false,
        answer: metaError(400, 100, 'Invalid parameter', 'Send the body as application/json.'),
      };
    const value = jsonOrUndefined(body);
    if (value === undefined)
      return {
        ok: false,
        answer: metaError(400, 100, 'Invalid parameter', 'The request body is not valid JSON.'),
      };
    return { ok: true, value };
  }

  function metaSend(req: IncomingMessage, phoneNumberId: string, body: Buffer): SandboxAnswer | 'hold' {
    if (!metaAuthorized(req)) return metaUnauthorized();
    if (phoneNumberId !== identity.phoneNumberId) return metaUnknownObject(phoneNumberId);
    const json = metaJson(req, body);
    if (!json.ok) return json.answer;
    const parsed = MetaSendBody.safeParse(json.value);
    if (!parsed.success) return metaError(400, 100, 'Invalid parameter', issuesText(parsed.error.issues));
    const request = parsed.data;
    const to = `+${request.to.replace(/^\+/, '')}`;
    let params: string[] = [];
    let document: ReceivedMessage['document'];
    if (request.type === 'template') {
      const components = request.template.components ?? [];
      const bodyComponent = components.find((component) => component.type === 'body');
      const header = components.find((component) => component.type === 'header');
      if (
        components.filter((component) => component.type === 'body').length > 1 ||
        components.filter((component) => component.type === 'header').length > 1
      )
        return metaError(400, 100, 'Invalid parameter', 'Each component type may appear once.');
      params =
        bodyComponent?.type === 'body' ? bodyComponent.parameters.map((parameter) => parameter.text) : [];
      if (header?.type === 'header') {
        const link = header.parameters[0]!.document;
        document = { url: link.link, ...(link.filename ? { filename: link.filename } : {}) };
      }
      if (params.some((param) => BAD_PARAMETER_TEXT.test(param)))
        return metaError(
          400,
          132018,
          'There was an issue with the parameters in your template.',
          'Param text cannot have new-line/tab characters or more than 4 consecutive spaces',
        );
      const known = findTemplate(request.template.name, request.template.language.code);
      if (!known && options.strictTemplates)
        return metaError(
          404,
          132001,
          'Template name does not exist in the translation',
          `template name (${request.template.name}) does not exist in ${request.template.language.code}`,
        );
      if (known && known.placeholders !== params.length)
        return metaError(
          400,
          132000,
          'Number of parameters does not match the expected number of params',
          `body: number of localizable_params (${params.length}) does not match the expected number of params (${known.placeholders})`,
        );
      if (known && known.documentHeader !== Boolean(document))
        return metaError(
          400,
          132012,
          'Parameter format does not match format in the created template',
          known.documentHeader
            ? 'header: Format mismatch, expected DOCUMENT, received nothing'
            : 'header: the template has no media header',
        );
    }
    const fault = takeFault(to);
    if (fault) return metaFault(fault);
    if (isInvalid(to)) return metaError(400, 131026, 'Message undeliverable', 'Message Undeliverable.');
    const message: ReceivedMessage = {
      api: 'meta',
      providerMessageId: wamid(),
      to,
      type: request.type,
      ...(request.type === 'template'
        ? { template: { name: request.template.name, language: request.template.language.code } }
        : { text: request.text.body }),
      params,
      ...(document ? { document } : {}),
      ...(request.biz_opaque_callback_data !== undefined
        ? { clientReference: request.biz_opaque_callback_data }
        : {}),
      receivedAt: new Date(),
      statuses: [],
    };
    messages.push(message);
    scheduleStatuses(message, nextStatuses());
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: request.to, wa_id: to.slice(1) }],
        messages: [
          {
            id: message.providerMessageId,
            ...(request.type === 'template' ? { message_status: 'accepted' } : {}),
          },
        ],
      },
    };
  }

  function metaSubmitTemplate(req: IncomingMessage, businessAccountId: string, body: Buffer): SandboxAnswer {
    if (!metaAuthorized(req)) return metaUnauthorized();
    if (businessAccountId !== identity.businessAccountId) return metaUnknownObject(businessAccountId);
    const json = metaJson(req, body);
    if (!json.ok) return json.answer;
    const parsed = MetaTemplateSubmission.safeParse(json.value);
    if (!parsed.success) return metaError(400, 100, 'Invalid parameter', issuesText(parsed.error.issues));
    const problem = templateSubmissionProblem(parsed.data);
    if (problem) return metaError(400, 100, 'Invalid parameter', problem);
    const submission = parsed.data;
    if (findTemplate(submission.name, submission.language))
      return metaError(
        400,
        100,
        'Invalid parameter',
        `Content in ${submission.language} already exists for template ${submission.name}.`,
      );
    const bodyComponent = submission.components.find((component) => component.type === 'BODY')!;
    const template: SandboxTemplate = {
      id: templateId(),
      name: submission.name,
      language: submission.language,
      category: submission.category,
      bodyText: bodyComponent.type === 'BODY' ? bodyComponent.text : '',
      placeholders: bodyComponent.type === 'BODY' ? placeholdersOf(bodyComponent.text).length : 0,
      documentHeader: submission.components.some((component) => component.type === 'HEADER'),
      status: 'APPROVED',
      submittedAt: new Date(),
    };
    templates.push(template);
    // Approved at once; the review webhook follows, as Meta sends one for every decision.
    if (options.webhookUrl) {
      const { signal } = generation;
      track(
        (async () => {
          try {
            await delay(statusDelayMs, undefined, { signal });
          } catch {
            return;
          }
          await deliver('meta', 'template', metaTemplateWebhook(identity, template, 'APPROVED'), signal);
        })(),
      );
    }
    return { status: 200, body: { id: template.id, status: 'APPROVED', category: template.category } };
  }

  function gupshupSend(
    req: IncomingMessage,
    kind: 'template' | 'text',
    body: Buffer,
  ): SandboxAnswer | 'hold' {
    const key = req.headers.apikey;
    if (typeof key !== 'string' || !sameSecret(key, credentials.gupshupApiKey))
      return gupshupError(401, 'Authentication Failed');
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded'))
      return gupshupError(400, 'Invalid Content-Type: expected application/x-www-form-urlencoded');
    const request = readGupshupForm(kind, new URLSearchParams(body.toString('utf8')), {
      appName: credentials.gupshupAppName,
      sourceNumber: credentials.gupshupSourceNumber,
    });
    if ('status' in request) return request;
    const to = `+${request.destination}`;
    let known: SandboxTemplate | undefined;
    if (request.kind === 'template') {
      known = templates.find((template) => template.id === request.template.id);
      if (request.template.params.some((param) => BAD_PARAMETER_TEXT.test(param)))
        return gupshupError(
          400,
          'Invalid Template Params: no new-line/tab characters or more than 4 consecutive spaces',
        );
      if (!known && options.strictTemplates) return gupshupError(400, 'Template Not Found');
      if (known && known.placeholders !== request.template.params.length)
        return gupshupError(400, 'Template params count mismatch');
      if (known && known.documentHeader !== Boolean(request.document))
        return gupshupError(400, 'Template media type mismatch');
    }
    const fault = takeFault(to);
    if (fault) return gupshupFault(fault);
    const message: ReceivedMessage = {
      api: 'gupshup',
      providerMessageId: randomUUID(),
      to,
      type: request.kind,
      ...(request.kind === 'template'
        ? {
            template: {
              id: request.template.id,
              ...(known ? { name: known.name, language: known.language } : {}),
            },
          }
        : { text: request.text }),
      params: request.kind === 'template' ? request.template.params : [],
      ...(request.kind === 'template' && request.document ? { document: request.document } : {}),
      receivedAt: new Date(),
      statuses: [],
    };
    messages.push(message);
    // A number not on WhatsApp is accepted by Gupshup and reported failed afterwards.
    scheduleStatuses(message, isInvalid(to) ? ['failed'] : nextStatuses(), gupshupWhatsAppId());
    return { status: 202, body: { status: 'submitted', messageId: message.providerMessageId } };
  }

  async function deliverInbound(
    from: string,
    text: string,
    inbound: { api?: SandboxApi } = {},
  ): Promise<WebhookDelivery> {
    if (!E164.test(from)) throw new TypeError('deliverInbound: from must be in E.164');
    const api = inbound.api ?? (options.webhookUrl ? 'meta' : 'gupshup');
    const digits = from.slice(1);
    const payload =
      api === 'meta'
        ? metaInboundWebhook(identity, digits, text, wamid())
        : gupshupInboundCallback(credentials.gupshupAppName, digits, text, gupshupWhatsAppId());
    return track(deliver(api, 'inbound', payload, generation.signal));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge)
        return respond(res, { status: 413, body: { error: 'body too large' } });
      throw error;
    }
    if (req.method === 'GET' && path === '/') {
      return respond(res, {
        status: 200,
        body: renderSandboxPage(messages, templates, deliveries),
        contentType: 'text/html; charset=utf-8',
      });
    }
    if (req.method === 'GET' && path === '/_sandbox/messages')
      return respond(res, { status: 200, body: { messages, templates, deliveries } });
    if (req.method === 'POST' && path === '/_sandbox/inbound') {
      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const fields = isForm
        ? Object.fromEntries(new URLSearchParams(body.toString('utf8')))
        : ((jsonOrUndefined(body) ?? {}) as Record<string, unknown>);
      const { from, text, api } = fields;
      if (typeof from !== 'string' || !E164.test(from) || typeof text !== 'string' || !text)
        return respond(res, { status: 400, body: { error: 'from (E.164) and text are required' } });
      const chosen = api === 'gupshup' || api === 'meta' ? api : undefined;
      if (
        !(chosen === 'gupshup'
          ? options.gupshupCallbackUrl
          : chosen === 'meta'
            ? options.webhookUrl
            : (options.webhookUrl ?? options.gupshupCallbackUrl))
      )
        return respond(res, { status: 409, body: { error: 'no webhook URL configured for that API' } });
      const delivery = await deliverInbound(from, text, chosen ? { api: chosen } : {});
      if (isForm) {
        res.writeHead(303, { location: './' });
        res.end();
        return;
      }
      return respond(res, { status: 200, body: delivery });
    }

    let answer: SandboxAnswer | 'hold' | undefined;
    const graph = /^\/(v\d+\.\d+)\/([^/]+)\/(messages|message_templates)$/.exec(path);
    if (req.method === 'POST' && graph) {
      answer =
        graph[3] === 'messages' ? metaSend(req, graph[2]!, body) : metaSubmitTemplate(req, graph[2]!, body);
    } else if (req.method === 'POST' && path === '/wa/api/v1/template/msg') {
      answer = gupshupSend(req, 'template', body);
    } else if (req.method === 'POST' && path === '/wa/api/v1/msg') {
      answer = gupshupSend(req, 'text', body);
    } else if (/^\/v\d+\.\d+\//.test(path)) {
      answer = metaError(400, 100, 'Invalid parameter', `Unsupported ${req.method} request.`);
    } else {
      answer = { status: 404, body: { error: 'not found' } };
    }
    if (answer === 'hold') {
      // The timeout fault: the answer never comes; the client's own timeout ends it.
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    respond(res, answer);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // A sandbox bug: answer something a client can see rather than leave it hanging.
      if (!res.headersSent) respond(res, { status: 500, body: { error: 'sandbox error' } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;

  return {
    url,
    async close() {
      generation.abort();
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...pending]);
    },
    received: () => messages.map((message) => ({ ...message, statuses: [...message.statuses] })),
    templates: () => [...templates],
    deliveries: () => [...deliveries],
    reset() {
      generation.abort();
      generation = new AbortController();
      messages = [];
      deliveries = [];
      templates = seeded();
      faults = [];
      plan = { statuses: options.statuses ?? DEFAULT_STATUSES, shuffle: options.shuffleStatuses ?? false };
    },
    setFault,
    failNext(kind, count = 1) {
      setFault({ kind, count });
    },
    clearFaults() {
      faults = [];
    },
    setStatusPlan(next) {
      plan = { statuses: next.statuses ?? plan.statuses, shuffle: next.shuffle ?? plan.shuffle };
    },
    deliverInbound,
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
