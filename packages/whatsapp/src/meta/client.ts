import { z } from 'zod';
import { E164 } from '../phone.js';
import {
  parseJson,
  postToProvider,
  PROVIDER_TIMEOUT_MS,
  transportOutcome,
  type FetchLike,
} from '../provider-http.js';
import {
  WhatsAppProviderError,
  type SendOutcome,
  type TemplateMessage,
  type TemplateStatus,
  type TemplateSubmission,
  type TextMessage,
  type WhatsAppProvider,
} from '../provider.js';
import { metaFailureOutcome } from './errors.js';
import { metaTemplateStatus } from './events.js';

/** Where and as whom Bursar calls Meta's WhatsApp Cloud API. */
export interface MetaClientOptions {
  /** `https://graph.facebook.com`, or the sandbox's URL. */
  baseUrl: string;
  /** The Graph API version in the path (`v21.0`). */
  graphVersion: string;
  /** The business phone number's id (not the number): messages are sent from it. */
  phoneNumberId: string;
  /** The WhatsApp Business Account id: templates are submitted to it. */
  businessAccountId?: string;
  /** A system user's access token with `whatsapp_business_messaging` (and `_management` for templates). */
  accessToken: string;
  /** Default `PROVIDER_TIMEOUT_MS` (10 s). */
  timeoutMs?: number;
  fetch?: FetchLike;
}

/** The parts of Meta's send answer Bursar reads: `{ messaging_product, contacts, messages: [{ id }] }`. */
const SendAnswer = z.object({ messages: z.array(z.object({ id: z.string().min(1) })).min(1) });

/** Meta's answer to a template submission. */
const SubmitAnswer = z.object({ id: z.string().min(1), status: z.string().min(1) });

/** Meta keeps `biz_opaque_callback_data` to 512 characters. */
const MAX_CLIENT_REFERENCE = 512;

/** The `/messages` body for a template: a document header when given, the body's text parameters. */
export function metaTemplateRequest(message: TemplateMessage): Record<string, unknown> {
  const components: unknown[] = [];
  if (message.document) {
    components.push({
      type: 'header',
      parameters: [
        { type: 'document', document: { link: message.document.url, filename: message.document.filename } },
      ],
    });
  }
  if (message.bodyParams.length > 0) {
    components.push({
      type: 'body',
      parameters: message.bodyParams.map((text) => ({ type: 'text', text })),
    });
  }
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: message.to,
    type: 'template',
    template: {
      name: message.template.name,
      language: { code: message.template.language },
      ...(components.length > 0 ? { components } : {}),
    },
    biz_opaque_callback_data: message.clientReference,
  };
}

/** The `/messages` body for free text. */
export function metaTextRequest(message: TextMessage): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: message.to,
    type: 'text',
    text: { body: message.text, preview_url: false },
    biz_opaque_callback_data: message.clientReference,
  };
}

/** The `/message_templates` body: the body with its example values, and a document header when asked. */
export function metaTemplateSubmission(template: TemplateSubmission): Record<string, unknown> {
  const components: unknown[] = [];
  if (template.documentHeader) {
    components.push({
      type: 'HEADER',
      format: 'DOCUMENT',
      example: { header_handle: [template.documentHeader.exampleHandle] },
    });
  }
  components.push({
    type: 'BODY',
    text: template.bodyText,
    ...(template.bodyExample.length > 0 ? { example: { body_text: [template.bodyExample] } } : {}),
  });
  return {
    name: template.name,
    language: template.language,
    category: template.category,
    components,
  };
}

/**
 * A `WhatsAppProvider` over Meta's Cloud API:
 * `POST {base}/{version}/{phoneNumberId}/messages` with a Bearer token. A
 * refusal is classified by Meta's `error.code` (see `metaFailureOutcome`); a
 * `to` that is not E.164 is refused here, as Meta would refuse it, without a
 * request. A 2xx answer without a message id is `unknown`: it should not
 * happen, and the message may exist.
 */
export function createMetaProvider(options: MetaClientOptions): WhatsAppProvider {
  const fetchImpl: FetchLike = options.fetch ?? fetch;
  const base = `${options.baseUrl.replace(/\/$/, '')}/${options.graphVersion}`;
  const timeoutMs = options.timeoutMs ?? PROVIDER_TIMEOUT_MS;
  const headers = {
    authorization: `Bearer ${options.accessToken}`,
    'content-type': 'application/json',
  };

  async function send(
    to: string,
    clientReference: string,
    body: Record<string, unknown>,
  ): Promise<SendOutcome> {
    if (clientReference.length > MAX_CLIENT_REFERENCE)
      throw new TypeError(`clientReference is longer than ${MAX_CLIENT_REFERENCE} characters`);
    if (!E164.test(to))
      return {
        kind: 'permanent',
        code: 'not_e164',
        title: 'recipient is not in E.164',
        reason: 'invalid_number',
      };
    const result = await postToProvider(
      fetchImpl,
      `${base}/${encodeURIComponent(options.phoneNumberId)}/messages`,
      { headers, body: JSON.stringify(body) },
      timeoutMs,
    );
    if (result.kind !== 'answer') return transportOutcome(result);
    if (result.status < 200 || result.status > 299)
      return metaFailureOutcome(result.status, result.headers, result.text);
    const answer = SendAnswer.safeParse(parseJson(result.text));
    if (!answer.success)
      return { kind: 'unknown', code: 'unreadable_answer', title: 'Meta accepted without a message id' };
    return { kind: 'accepted', providerMessageId: answer.data.messages[0]!.id };
  }

  return {
    name: 'meta',
    sendTemplate: (message) => send(message.to, message.clientReference, metaTemplateRequest(message)),
    sendText: (message) => send(message.to, message.clientReference, metaTextRequest(message)),
    async submitTemplate(template): Promise<{ providerTemplateId: string; status: TemplateStatus }> {
      if (!options.businessAccountId) throw new TypeError('submitTemplate needs businessAccountId');
      const result = await postToProvider(
        fetchImpl,
        `${base}/${encodeURIComponent(options.businessAccountId)}/message_templates`,
        { headers, body: JSON.stringify(metaTemplateSubmission(template)) },
        timeoutMs,
      );
      if (result.kind !== 'answer')
        throw new WhatsAppProviderError('meta', transportOutcome(result), 'template submission');
      if (result.status < 200 || result.status > 299)
        throw new WhatsAppProviderError(
          'meta',
          metaFailureOutcome(result.status, result.headers, result.text),
          'template submission',
        );
      const answer = SubmitAnswer.safeParse(parseJson(result.text));
      const status = answer.success ? metaTemplateStatus(answer.data.status) : undefined;
      if (!answer.success || !status)
        throw new WhatsAppProviderError(
          'meta',
          {
            kind: 'transient',
            code: 'unreadable_answer',
            title: 'Meta answered without a template id and status',
          },
          'template submission',
        );
      return { providerTemplateId: answer.data.id, status };
    },
  };
}
