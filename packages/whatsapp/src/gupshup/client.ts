import { z } from 'zod';
import { E164 } from '../phone.js';
import {
  parseJson,
  postToProvider,
  PROVIDER_TIMEOUT_MS,
  transportOutcome,
  type FetchLike,
} from '../provider-http.js';
import type { SendOutcome, TemplateMessage, TextMessage, WhatsAppProvider } from '../provider.js';
import { gupshupFailureOutcome } from './errors.js';

/** Where and as whom Bursar calls Gupshup's WhatsApp API. */
export interface GupshupClientOptions {
  /** `https://api.gupshup.io`, or the sandbox's URL. */
  baseUrl: string;
  /** The account's API key (header `apikey`). */
  apiKey: string;
  /** The Gupshup app's name (`src.name`). */
  appName: string;
  /** The business number messages come from, with or without `+`. */
  sourceNumber: string;
  /** Default `PROVIDER_TIMEOUT_MS` (10 s). */
  timeoutMs?: number;
  fetch?: FetchLike;
}

/** Gupshup's acceptance: `{ status: "submitted", messageId }` (HTTP 202). */
const SendAnswer = z.object({ status: z.literal('submitted'), messageId: z.string().min(1) });

const digits = (phone: string) => phone.replace(/^\+/, '');

/** The form fields of `POST /wa/api/v1/template/msg` (Gupshup names the template by its id). */
export function gupshupTemplateForm(
  options: GupshupClientOptions,
  message: TemplateMessage,
): URLSearchParams {
  const templateId = message.template.providerTemplateId;
  if (!templateId) throw new TypeError('Gupshup sends templates by id: set template.providerTemplateId');
  const form = new URLSearchParams({
    channel: 'whatsapp',
    source: digits(options.sourceNumber),
    destination: digits(message.to),
    'src.name': options.appName,
    template: JSON.stringify({ id: templateId, params: message.bodyParams }),
  });
  if (message.document) {
    form.set(
      'message',
      JSON.stringify({
        type: 'document',
        document: { link: message.document.url, filename: message.document.filename },
      }),
    );
  }
  return form;
}

/** The form fields of `POST /wa/api/v1/msg` for free text. */
export function gupshupTextForm(options: GupshupClientOptions, message: TextMessage): URLSearchParams {
  return new URLSearchParams({
    channel: 'whatsapp',
    source: digits(options.sourceNumber),
    destination: digits(message.to),
    'src.name': options.appName,
    message: JSON.stringify({ type: 'text', text: message.text }),
    disablePreview: 'true',
  });
}

/**
 * A `WhatsAppProvider` over Gupshup's WhatsApp API (form-encoded posts with an
 * `apikey` header). Templates go by Gupshup's template id
 * (`template.providerTemplateId`, required: a missing one is a programming
 * error and throws). Gupshup has no field for Bursar's own reference, so
 * `clientReference` is not sent; callbacks are matched on the `messageId`
 * this answers with. Template submission is not offered: Gupshup's template
 * API is its partner API, outside what this adapter covers.
 */
export function createGupshupProvider(options: GupshupClientOptions): WhatsAppProvider {
  const fetchImpl: FetchLike = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/$/, '');
  const timeoutMs = options.timeoutMs ?? PROVIDER_TIMEOUT_MS;

  async function send(to: string, path: string, form: URLSearchParams): Promise<SendOutcome> {
    if (!E164.test(to))
      return {
        kind: 'permanent',
        code: 'not_e164',
        title: 'recipient is not in E.164',
        reason: 'invalid_number',
      };
    const result = await postToProvider(
      fetchImpl,
      `${base}${path}`,
      {
        headers: { apikey: options.apiKey, 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      },
      timeoutMs,
    );
    if (result.kind !== 'answer') return transportOutcome(result);
    const answer = SendAnswer.safeParse(parseJson(result.text));
    if (result.status >= 200 && result.status <= 299 && answer.success)
      return { kind: 'accepted', providerMessageId: answer.data.messageId };
    if (result.status >= 200 && result.status <= 299) {
      // Gupshup answers some refusals with a 2xx and `status: "error"`: read them as the 400 they are.
      const body = parseJson(result.text) as { status?: unknown } | undefined;
      if (body?.status === 'error') return gupshupFailureOutcome(400, result.headers, result.text);
      return { kind: 'unknown', code: 'unreadable_answer', title: 'Gupshup answered without a message id' };
    }
    return gupshupFailureOutcome(result.status, result.headers, result.text);
  }

  return {
    name: 'gupshup',
    async sendTemplate(message) {
      return send(message.to, '/wa/api/v1/template/msg', gupshupTemplateForm(options, message));
    },
    async sendText(message) {
      return send(message.to, '/wa/api/v1/msg', gupshupTextForm(options, message));
    },
  };
}
