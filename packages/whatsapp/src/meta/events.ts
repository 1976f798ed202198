import { z } from 'zod';
import type { MessageStatus, TemplateStatus, WhatsAppEvent } from '../provider.js';
import { redactNumbers } from '../phone.js';
import { parseWebhookBody, readWebhookPart } from '../webhook-body.js';

/** Meta's template review events as Bursar's `TemplateStatus`; undefined for an event Bursar does not know. */
export function metaTemplateStatus(event: string): TemplateStatus | undefined {
  switch (event.toUpperCase()) {
    case 'APPROVED':
    case 'REINSTATED':
      return 'approved';
    case 'PENDING':
    case 'IN_APPEAL':
      return 'pending';
    case 'REJECTED':
      return 'rejected';
    case 'PAUSED':
      return 'paused';
    case 'DISABLED':
    case 'ARCHIVED':
    case 'LIMIT_EXCEEDED':
      return 'disabled';
    case 'FLAGGED':
      return 'flagged';
    case 'DELETED':
    case 'PENDING_DELETION':
      return 'deleted';
    default:
      return undefined;
  }
}

/** A Unix time in seconds, as Meta sends it (a string of digits). */
const Seconds = z
  .union([z.string().regex(/^\d{1,12}$/, 'must be Unix seconds'), z.number().int().nonnegative()])
  .transform((value) => new Date(Number(value) * 1000));

/** A WhatsApp id (the number's digits, no `+`). */
const WaDigits = z.string().regex(/^\d{6,15}$/, 'must be the digits of a phone number');

const StatusError = z.object({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.object({ details: z.string().optional() }).optional(),
});

// Lenient objects (zod strips unknown keys): Meta adds fields (pricing, conversation) over time.
const Status = z.object({
  id: z.string().min(1),
  status: z.string().min(1),
  timestamp: Seconds,
  recipient_id: WaDigits,
  biz_opaque_callback_data: z.string().optional(),
  errors: z.array(StatusError).optional(),
});

const InboundMessage = z.object({
  from: WaDigits,
  id: z.string().min(1),
  timestamp: Seconds,
  type: z.string().min(1),
  text: z.object({ body: z.string() }).optional(),
  button: z.object({ text: z.string().optional(), payload: z.string().optional() }).optional(),
  interactive: z
    .object({
      type: z.string().optional(),
      button_reply: z.object({ id: z.string().optional(), title: z.string() }).optional(),
      list_reply: z.object({ id: z.string().optional(), title: z.string() }).optional(),
    })
    .optional(),
  image: z.object({ caption: z.string().optional() }).optional(),
  document: z.object({ caption: z.string().optional() }).optional(),
  video: z.object({ caption: z.string().optional() }).optional(),
});

const MessagesValue = z.object({
  messaging_product: z.literal('whatsapp'),
  metadata: z.object({ display_phone_number: z.string(), phone_number_id: z.string().min(1) }),
  statuses: z.array(Status).optional(),
  messages: z.array(InboundMessage).optional(),
});

const TemplateValue = z.object({
  event: z.string().min(1),
  message_template_id: z.union([z.number().int(), z.string().min(1)]),
  message_template_name: z.string().min(1),
  message_template_language: z.string().min(1),
  reason: z.string().nullable().optional(),
});

const Change = z.object({ field: z.string().min(1), value: z.unknown() });

const Envelope = z.object({
  object: z.string().min(1),
  entry: z.array(z.object({ id: z.string().optional(), changes: z.array(Change) })),
});

const STATUSES: ReadonlySet<string> = new Set(['sent', 'delivered', 'read', 'failed']);

/** The words a guardian's message carries: text, a button's label, a caption; empty for anything else. */
function inboundText(message: z.infer<typeof InboundMessage>): string {
  return (
    message.text?.body ??
    message.button?.text ??
    message.interactive?.button_reply?.title ??
    message.interactive?.list_reply?.title ??
    message.image?.caption ??
    message.document?.caption ??
    message.video?.caption ??
    ''
  );
}

/**
 * What a Meta webhook delivery reports (verify the signature first: see
 * `verifyMetaSignature`). One delivery can batch several entries, changes,
 * statuses and messages, so the answer is a list, in the order Meta sent them.
 *
 * - `messages` changes: each status (`sent`, `delivered`, `read`, `failed`
 *   with its first error) and each inbound message (any type but `system`,
 *   which is WhatsApp's notice of a number change, not the guardian writing).
 * - `message_template_status_update` changes: a template's review result.
 *
 * Other objects, fields, status values and template events are ignored (Meta
 * adds them over time). A body that is not JSON or not Meta's shape throws
 * `WhatsAppWebhookError`.
 */
export function parseMetaWebhook(rawBody: Buffer | string): WhatsAppEvent[] {
  // Meta sends template ids as JSON numbers, which may pass 2^53: read them as the digits they are.
  const text = (typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8')).replace(
    /("message_template_id"\s*:\s*)(\d+)/g,
    '$1"$2"',
  );
  const envelope = parseWebhookBody('meta', Envelope, text);
  if (envelope.object !== 'whatsapp_business_account') return [];
  const events: WhatsAppEvent[] = [];
  for (const [entryIndex, entry] of envelope.entry.entries()) {
    for (const [changeIndex, change] of entry.changes.entries()) {
      const where = `entry.${entryIndex}.changes.${changeIndex}`;
      if (change.field === 'messages') {
        const value = readWebhookPart('meta', MessagesValue, change.value, `${where}.value`);
        for (const status of value.statuses ?? []) {
          if (!STATUSES.has(status.status)) continue;
          const error = status.errors?.[0];
          const errorWords = error
            ? [error.title ?? error.message, error.error_data?.details].filter(Boolean).join(': ')
            : '';
          events.push({
            kind: 'status',
            providerMessageId: status.id,
            status: status.status as MessageStatus,
            at: status.timestamp,
            recipient: `+${status.recipient_id}`,
            ...(error ? { errorCode: String(error.code) } : {}),
            ...(errorWords ? { errorTitle: redactNumbers(errorWords).slice(0, 300) } : {}),
            ...(status.biz_opaque_callback_data !== undefined
              ? { clientReference: status.biz_opaque_callback_data }
              : {}),
          });
        }
        for (const message of value.messages ?? []) {
          if (message.type === 'system') continue;
          events.push({
            kind: 'inbound',
            providerMessageId: message.id,
            from: `+${message.from}`,
            text: inboundText(message),
            messageType: message.type,
            at: message.timestamp,
            businessNumberId: value.metadata.phone_number_id,
          });
        }
      } else if (change.field === 'message_template_status_update') {
        const value = readWebhookPart('meta', TemplateValue, change.value, `${where}.value`);
        const status = metaTemplateStatus(value.event);
        if (!status) continue;
        const reason = value.reason && value.reason.toUpperCase() !== 'NONE' ? value.reason : undefined;
        events.push({
          kind: 'template',
          providerTemplateId: String(value.message_template_id),
          name: value.message_template_name,
          language: value.message_template_language,
          status,
          ...(reason ? { reason } : {}),
        });
      }
    }
  }
  return events;
}
