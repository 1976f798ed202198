import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { PlannedStatus, ReceivedMessage, SandboxAnswer } from './sandbox-types.js';

/** Gupshup's error answer: `{ status: "error", message }`. */
export function gupshupError(status: number, message: string): SandboxAnswer {
  return { status, body: { status: 'error', message } };
}

/** The id WhatsApp gives a message Gupshup sent (what Gupshup's later events call `id`). */
export function gupshupWhatsAppId(): string {
  return `gBEGkZ${randomBytes(16).toString('base64url').slice(0, 22)}`;
}

const Digits = z.string().regex(/^[1-9]\d{6,14}$/);

const TemplateField = z.strictObject({ id: z.string().min(1), params: z.array(z.string()) });

const DocumentMessage = z.strictObject({
  type: z.literal('document'),
  document: z.strictObject({ link: z.url({ protocol: /^https?$/ }), filename: z.string().min(1).optional() }),
});

const TextMessage = z.strictObject({ type: z.literal('text'), text: z.string().min(1).max(4_096) });

/** What a Gupshup send form asked for, once its fields checked out. */
export type GupshupRequest =
  | {
      kind: 'template';
      destination: string;
      template: z.infer<typeof TemplateField>;
      document?: { url: string; filename?: string };
    }
  | { kind: 'text'; destination: string; text: string };

const FIELDS = {
  template: ['channel', 'source', 'destination', 'src.name', 'template', 'message'],
  text: ['channel', 'source', 'destination', 'src.name', 'message', 'disablePreview', 'encode'],
} as const;

function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Reads a Gupshup send form strictly: only the fields Gupshup documents for
 * the endpoint, each once; `channel=whatsapp`; the app's own source number
 * and name; a destination of digits only (a leading `+` is Gupshup's
 * "Invalid Destination"); `template` and `message` as the JSON Gupshup wants.
 * Answers the request, or Gupshup's 400 naming what is wrong.
 */
export function readGupshupForm(
  kind: 'template' | 'text',
  form: URLSearchParams,
  app: { appName: string; sourceNumber: string },
): GupshupRequest | SandboxAnswer {
  const allowed: readonly string[] = FIELDS[kind];
  for (const key of new Set(form.keys())) {
    if (!allowed.includes(key)) return gupshupError(400, `Invalid Request Parameter: ${key}`);
    if (form.getAll(key).length > 1) return gupshupError(400, `Duplicate Request Parameter: ${key}`);
  }
  for (const key of [
    'channel',
    'source',
    'destination',
    'src.name',
    kind === 'template' ? 'template' : 'message',
  ])
    if (!form.get(key)) return gupshupError(400, `Missing Required Parameter: ${key}`);
  if (form.get('channel') !== 'whatsapp') return gupshupError(400, 'Invalid Channel');
  if (form.get('source') !== app.sourceNumber.replace(/^\+/, '') || form.get('src.name') !== app.appName)
    return gupshupError(400, 'Invalid App Details');
  const destination = form.get('destination')!;
  if (!Digits.safeParse(destination).success) return gupshupError(400, 'Invalid Destination');
  const message = form.get('message');
  if (kind === 'text') {
    const text = TextMessage.safeParse(json(message!));
    if (!text.success) return gupshupError(400, 'Invalid Message: expected {"type":"text","text":"…"}');
    return { kind: 'text', destination, text: text.data.text };
  }
  const template = TemplateField.safeParse(json(form.get('template')!));
  if (!template.success) return gupshupError(400, 'Invalid Template: expected {"id":"…","params":["…"]}');
  if (message === null) return { kind: 'template', destination, template: template.data };
  const document = DocumentMessage.safeParse(json(message));
  if (!document.success)
    return gupshupError(400, 'Invalid Message: expected {"type":"document","document":{"link":"…"}}');
  return {
    kind: 'template',
    destination,
    template: template.data,
    document: {
      url: document.data.document.link,
      ...(document.data.document.filename ? { filename: document.data.document.filename } : {}),
    },
  };
}

/**
 * A v2 `message-event` callback as Gupshup sends it: `enqueued` and `failed`
 * name the message by Gupshup's id in `id`; `sent`, `delivered` and `read`
 * put WhatsApp's id in `id` and Gupshup's in `gsId`.
 */
export function gupshupStatusCallback(
  appName: string,
  message: ReceivedMessage,
  whatsappMessageId: string,
  status: PlannedStatus | 'enqueued',
) {
  const destination = message.to.replace(/^\+/, '');
  const payload =
    status === 'enqueued'
      ? {
          id: message.providerMessageId,
          type: 'enqueued',
          destination,
          payload: { whatsappMessageId, type: message.type === 'template' ? 'template' : 'session' },
        }
      : status === 'failed'
        ? {
            id: message.providerMessageId,
            type: 'failed',
            destination,
            payload: { code: 1002, reason: 'Number Does Not Exists On WhatsApp' },
          }
        : {
            id: whatsappMessageId,
            gsId: message.providerMessageId,
            type: status,
            destination,
            payload: { ts: Math.floor(Date.now() / 1000) },
          };
  return { app: appName, timestamp: Date.now(), version: 2, type: 'message-event', payload };
}

/** A v2 inbound `message` callback: a guardian's text. */
export function gupshupInboundCallback(appName: string, fromDigits: string, text: string, id: string) {
  return {
    app: appName,
    timestamp: Date.now(),
    version: 2,
    type: 'message',
    payload: {
      id,
      source: fromDigits,
      type: 'text',
      payload: { text },
      sender: { phone: fromDigits, name: 'Sandbox guardian' },
    },
  };
}
