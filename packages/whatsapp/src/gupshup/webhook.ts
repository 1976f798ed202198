import { z } from 'zod';
import { sameSecret } from '../secret.js';
import { redactNumbers } from '../phone.js';
import type { MessageStatus, WhatsAppEvent } from '../provider.js';
import { parseWebhookBody, readWebhookPart } from '../webhook-body.js';

/**
 * Gupshup does not sign its callbacks, so the callback URL Bursar registers
 * carries a secret of its own (a `token` query parameter or header). This
 * compares the token a callback came with to the configured one in constant
 * time; a missing or empty token, or none configured, is `false`.
 */
export function verifyGupshupToken(given: string | undefined, expected: string): boolean {
  if (!given || !expected) return false;
  return sameSecret(given, expected);
}

const Digits = z.string().regex(/^\d{6,15}$/, 'must be the digits of a phone number');

const Envelope = z.object({
  app: z.string().min(1),
  timestamp: z.number().int().nonnegative(),
  version: z.number().int().optional(),
  type: z.string().min(1),
  payload: z.unknown(),
});

// Lenient objects (zod strips unknown keys): Gupshup adds fields over time.
const MessageEvent = z.object({
  id: z.string().min(1),
  gsId: z.string().min(1).optional(),
  type: z.string().min(1),
  destination: Digits,
  payload: z
    .object({
      code: z.union([z.number().int(), z.string()]).optional(),
      reason: z.string().optional(),
    })
    .optional(),
});

const Inbound = z.object({
  id: z.string().min(1),
  source: Digits,
  type: z.string().min(1),
  payload: z
    .object({
      text: z.string().optional(),
      title: z.string().optional(),
      caption: z.string().optional(),
    })
    .optional(),
  sender: z.object({ phone: Digits, name: z.string().optional() }).optional(),
});

const STATUSES: Readonly<Record<string, MessageStatus>> = {
  enqueued: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
};

/**
 * What a Gupshup callback (v2 format) reports, as the same `WhatsAppEvent`s
 * as Meta's (check the callback token first: `verifyGupshupToken`).
 *
 * `message-event`s are statuses. Gupshup's send answer names a message by its
 * Gupshup id; callbacks put that id in `id` for `enqueued` and `failed`, and
 * for `sent`/`delivered`/`read` put WhatsApp's id in `id` and the Gupshup id
 * in `gsId`. So `providerMessageId` is `gsId` when present, else `id`: always
 * the id the send answered with. (Gupshup drops `gsId` from events more than
 * a week after the send; those carry only WhatsApp's id, which matches no
 * send, and a consumer ignores an unknown id as it would any late event.)
 * `enqueued` is `queued`; `deleted` and other types are ignored.
 *
 * `message`s are a guardian writing (`from` is the sender, `businessNumberId`
 * the Gupshup app's name, since v2 callbacks do not carry the business
 * number). Other callback types (`user-event`, `billing-event`) are ignored.
 * A body that is not Gupshup's shape throws `WhatsAppWebhookError`.
 */
export function parseGupshupWebhook(rawBody: Buffer | string): WhatsAppEvent[] {
  const envelope = parseWebhookBody('gupshup', Envelope, rawBody);
  const at = new Date(envelope.timestamp);
  if (envelope.type === 'message-event') {
    const event = readWebhookPart('gupshup', MessageEvent, envelope.payload, 'payload');
    const status = STATUSES[event.type];
    if (!status) return [];
    const code = event.payload?.code;
    const reason = event.payload?.reason;
    return [
      {
        kind: 'status',
        providerMessageId: event.gsId ?? event.id,
        status,
        at,
        recipient: `+${event.destination}`,
        ...(status === 'failed' && code !== undefined ? { errorCode: String(code) } : {}),
        ...(status === 'failed' && reason ? { errorTitle: redactNumbers(reason).slice(0, 300) } : {}),
      },
    ];
  }
  if (envelope.type === 'message') {
    const message = readWebhookPart('gupshup', Inbound, envelope.payload, 'payload');
    return [
      {
        kind: 'inbound',
        providerMessageId: message.id,
        from: `+${message.sender?.phone ?? message.source}`,
        text: message.payload?.text ?? message.payload?.title ?? message.payload?.caption ?? '',
        messageType: message.type,
        at,
        businessNumberId: envelope.app,
      },
    ];
  }
  return [];
}
