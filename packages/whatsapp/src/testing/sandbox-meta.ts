import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { PlannedStatus, ReceivedMessage, SandboxAnswer } from './sandbox-types.js';

/** A WhatsApp message id as Meta mints them: `wamid.` and base64. */
export function wamid(): string {
  return `wamid.${randomBytes(30).toString('base64')}`;
}

/**
 * Meta's error answer: `{ error: { message: "(#code) title", type, code,
 * error_data: { messaging_product, details }, fbtrace_id } }`.
 */
export function metaError(status: number, code: number, title: string, details?: string): SandboxAnswer {
  return {
    status,
    body: {
      error: {
        message: `(#${code}) ${title}`,
        type: 'OAuthException',
        code,
        ...(details ? { error_data: { messaging_product: 'whatsapp', details } } : {}),
        fbtrace_id: `A${randomBytes(12).toString('base64url')}`,
      },
    },
  };
}

/** Meta's answer to a missing or wrong access token (HTTP 401, code 190). */
export const metaUnauthorized = (): SandboxAnswer => ({
  status: 401,
  body: {
    error: {
      message: 'Invalid OAuth access token - Cannot parse access token',
      type: 'OAuthException',
      code: 190,
      fbtrace_id: `A${randomBytes(12).toString('base64url')}`,
    },
  },
});

/** Meta's answer to a path naming an object the token cannot see (a wrong phone number or account id). */
export function metaUnknownObject(id: string): SandboxAnswer {
  return metaError(
    400,
    100,
    'Invalid parameter',
    `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
  );
}

/** Template parameters may not hold a newline, a tab or more than four spaces in a row (Meta's 132018). */
export const BAD_PARAMETER_TEXT = /[\n\t]| {5,}/;

const Recipient = z.string().regex(/^\+?[1-9]\d{6,14}$/, 'must be a phone number (digits, optional +)');

const TextParameter = z.strictObject({ type: z.literal('text'), text: z.string().min(1).max(32_768) });

const DocumentParameter = z.strictObject({
  type: z.literal('document'),
  document: z.strictObject({
    link: z.url({ protocol: /^https?$/ }),
    filename: z.string().min(1).max(240).optional(),
  }),
});

const HeaderComponent = z.strictObject({
  type: z.literal('header'),
  parameters: z.array(DocumentParameter).length(1),
});

const BodyComponent = z.strictObject({
  type: z.literal('body'),
  parameters: z.array(TextParameter).min(1),
});

const Base = {
  messaging_product: z.literal('whatsapp'),
  recipient_type: z.literal('individual').optional(),
  to: Recipient,
  /** Meta's own reconciliation field, echoed in status webhooks. */
  biz_opaque_callback_data: z.string().max(512).optional(),
};

/** A `/messages` body as Meta accepts it, strictly: an unknown field is a 400, as Meta answers it. */
export const MetaSendBody = z.discriminatedUnion('type', [
  z.strictObject({
    ...Base,
    type: z.literal('template'),
    template: z.strictObject({
      name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be lower case letters, digits and underscores'),
      language: z.strictObject({
        code: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'must be a language code such as en or en_US'),
        policy: z.literal('deterministic').optional(),
      }),
      components: z
        .array(z.discriminatedUnion('type', [HeaderComponent, BodyComponent]))
        .max(2)
        .optional(),
    }),
  }),
  z.strictObject({
    ...Base,
    type: z.literal('text'),
    text: z.strictObject({ body: z.string().min(1).max(4_096), preview_url: z.boolean().optional() }),
  }),
]);
export type MetaSendBody = z.infer<typeof MetaSendBody>;

/** The `{{n}}` placeholders of a template body, in order of appearance. */
export function placeholdersOf(text: string): number[] {
  return [...text.matchAll(/\{\{(\d+)\}\}/g)].map((match) => Number(match[1]));
}

/** A `/message_templates` body as Meta accepts it. */
export const MetaTemplateSubmission = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be lower case letters, digits and underscores'),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'must be a language code such as en or en_US'),
  category: z.enum(['UTILITY', 'MARKETING', 'AUTHENTICATION']),
  allow_category_change: z.boolean().optional(),
  components: z
    .array(
      z.discriminatedUnion('type', [
        z.strictObject({
          type: z.literal('BODY'),
          text: z.string().min(1).max(1_024),
          example: z.strictObject({ body_text: z.array(z.array(z.string().min(1))).length(1) }).optional(),
        }),
        z.strictObject({
          type: z.literal('HEADER'),
          format: z.literal('DOCUMENT'),
          example: z.strictObject({ header_handle: z.array(z.string().min(1)).length(1) }),
        }),
        z.strictObject({ type: z.literal('FOOTER'), text: z.string().min(1).max(60) }),
      ]),
    )
    .min(1),
});
export type MetaTemplateSubmission = z.infer<typeof MetaTemplateSubmission>;

/**
 * What Meta's review refuses at submission (code 100 with these details):
 * placeholders not numbered 1, 2, 3… in order, a variable at the very start
 * or end of the body, examples that do not fit the placeholders.
 */
export function templateSubmissionProblem(body: MetaTemplateSubmission): string | undefined {
  const bodies = body.components.filter((component) => component.type === 'BODY');
  if (bodies.length !== 1) return 'A template needs exactly one BODY component.';
  const main = bodies[0]!;
  const placeholders = placeholdersOf(main.text);
  if (placeholders.some((n, index) => n !== index + 1))
    return 'Variable parameters must be sequential, starting at {{1}}.';
  if (/^\s*\{\{\d+\}\}|\{\{\d+\}\}\s*$/.test(main.text))
    return "Variables can't be at the start or end of the template.";
  const examples = main.example?.body_text[0] ?? [];
  if (placeholders.length > 0 && examples.length !== placeholders.length)
    return 'The number of example values must match the number of variable parameters.';
  if (body.components.filter((component) => component.type === 'HEADER').length > 1)
    return 'A template has at most one HEADER component.';
  return undefined;
}

/** The display number the sandbox's business number reports in webhooks. */
export interface MetaIdentity {
  phoneNumberId: string;
  businessAccountId: string;
  displayPhoneNumber: string;
}

function envelope(identity: MetaIdentity, field: string, value: object): object {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: identity.businessAccountId, changes: [{ value, field }] }],
  };
}

const seconds = () => String(Math.floor(Date.now() / 1000));

/**
 * A `messages` webhook with one status, in Meta's envelope: the wamid, the
 * recipient's digits, `biz_opaque_callback_data` when the send carried it,
 * the conversation and pricing Meta adds, and for `failed` Meta's 131026.
 */
export function metaStatusWebhook(identity: MetaIdentity, message: ReceivedMessage, status: PlannedStatus) {
  const recipient = message.to.replace(/^\+/, '');
  return envelope(identity, 'messages', {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: identity.displayPhoneNumber, phone_number_id: identity.phoneNumberId },
    statuses: [
      {
        id: message.providerMessageId,
        status,
        timestamp: seconds(),
        recipient_id: recipient,
        ...(message.clientReference !== undefined
          ? { biz_opaque_callback_data: message.clientReference }
          : {}),
        ...(status === 'failed'
          ? {
              errors: [
                {
                  code: 131026,
                  title: 'Message undeliverable',
                  message: 'Message undeliverable',
                  error_data: { details: 'Message Undeliverable.' },
                },
              ],
            }
          : {
              conversation: {
                id: `conv_${message.providerMessageId.slice(6, 22)}`,
                ...(status === 'sent'
                  ? { expiration_timestamp: String(Math.floor(Date.now() / 1000) + 86_400) }
                  : {}),
                origin: { type: message.type === 'template' ? 'utility' : 'service' },
              },
              pricing: {
                billable: message.type === 'template',
                pricing_model: 'PMP',
                category: message.type === 'template' ? 'utility' : 'service',
              },
            }),
      },
    ],
  });
}

/** A `messages` webhook with one inbound text message from `fromDigits`. */
export function metaInboundWebhook(identity: MetaIdentity, fromDigits: string, text: string, id: string) {
  return envelope(identity, 'messages', {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: identity.displayPhoneNumber, phone_number_id: identity.phoneNumberId },
    contacts: [{ profile: { name: 'Sandbox guardian' }, wa_id: fromDigits }],
    messages: [{ from: fromDigits, id, timestamp: seconds(), type: 'text', text: { body: text } }],
  });
}

/** A `message_template_status_update` webhook. */
export function metaTemplateWebhook(
  identity: MetaIdentity,
  template: { id: string; name: string; language: string },
  event: string,
) {
  return envelope(identity, 'message_template_status_update', {
    event,
    message_template_id: Number(template.id),
    message_template_name: template.name,
    message_template_language: template.language,
    reason: 'NONE',
  });
}
