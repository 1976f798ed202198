import { z } from 'zod';
import { Id, IsoDateTime, PaginationQuery, paginated } from './common.js';

/** Facts a template parameter can name; each is filled per recipient at send time. */
export const MESSAGE_FACTS = [
  'guardian.name',
  'student.firstName',
  'student.fullName',
  'invoice.number',
  'invoice.balance',
  'invoice.dueDate',
  'school.name',
  'payLink',
] as const;
export const MessageFact = z.enum(MESSAGE_FACTS);
export type MessageFact = z.infer<typeof MessageFact>;

/**
 * One `{{n}}` of a template: a fact Bursar knows (`"guardian.name"`,
 * `"invoice.balance"` in the school's currency and locale), or literal text.
 */
export const MessageParam = z.union([
  MessageFact,
  z.strictObject({ text: z.string().trim().min(1).max(500) }),
]);
export type MessageParam = z.infer<typeof MessageParam>;

export const TemplateCategory = z.enum(['utility', 'marketing', 'authentication']);
export const TemplateStatus = z.enum(['draft', 'submitted', 'approved', 'rejected', 'paused']);
/** The transactional message a template is the school's choice for. */
export const TemplatePurpose = z.enum(['invoice', 'receipt', 'reminder', 'absence']);
export type TemplatePurpose = z.infer<typeof TemplatePurpose>;

/** The placeholders of a template body, `{{1}}`…`{{n}}`, which must run 1..n without gaps. */
export function templatePlaceholders(body: string): number[] {
  return [...body.matchAll(/\{\{(\d+)\}\}/g)].map((match) => Number(match[1]));
}

const TemplateBody = z
  .string()
  .trim()
  .min(1)
  .max(1024)
  .refine((body) => {
    const numbers = [...new Set(templatePlaceholders(body))].sort((a, b) => a - b);
    return numbers.every((number, index) => number === index + 1) && numbers.length <= 20;
  }, 'placeholders must be {{1}}, {{2}}, … in order with no gaps (at most 20)');

/** `POST /notify/templates`: a draft; submitting it to the provider moves it to `submitted`. */
export const CreateTemplateBody = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9_]{1,100}$/, 'lower-case letters, digits and underscores (as Meta requires)'),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'a WhatsApp language code such as en, hi or en_US'),
  category: TemplateCategory,
  body: TemplateBody,
  header: z.enum(['none', 'document']).default('none'),
  purpose: TemplatePurpose.optional(),
  schoolId: Id.optional(),
});
export type CreateTemplateBody = z.infer<typeof CreateTemplateBody>;

/** `PATCH /notify/templates/:id`: only drafts and rejected templates change (409 otherwise). */
export const UpdateTemplateBody = z
  .strictObject({
    body: TemplateBody.optional(),
    category: TemplateCategory.optional(),
    header: z.enum(['none', 'document']).optional(),
    purpose: TemplatePurpose.nullable().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'send at least one field to change');
export type UpdateTemplateBody = z.infer<typeof UpdateTemplateBody>;

export const Template = z.object({
  id: Id,
  schoolId: Id,
  name: z.string(),
  language: z.string(),
  category: TemplateCategory,
  body: z.string(),
  paramCount: z.number().int(),
  header: z.enum(['none', 'document']),
  purpose: TemplatePurpose.nullable(),
  status: TemplateStatus,
  statusReason: z.string().nullable(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type Template = z.infer<typeof Template>;
export const TemplateList = paginated(Template);
export const ListTemplatesQuery = PaginationQuery.extend({
  schoolId: Id.optional(),
  status: TemplateStatus.optional(),
}).strict();

/** Who a campaign goes to: the primary guardians of students matching every filter given. */
export const Audience = z.strictObject({
  classIds: z.array(Id).min(1).max(200).optional(),
  overdueOnly: z.boolean().optional(),
  minBalanceMinor: z.number().int().min(1).optional(),
  guardianIds: z.array(Id).min(1).max(50_000).optional(),
});
export type Audience = z.infer<typeof Audience>;

/** `POST /notify/campaigns`: a draft; `scheduledAt` launches it by itself at that time. */
export const CreateCampaignBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  templateId: Id,
  params: z.array(MessageParam).max(20),
  audience: Audience,
  scheduledAt: IsoDateTime.optional(),
  schoolId: Id.optional(),
});
export type CreateCampaignBody = z.infer<typeof CreateCampaignBody>;

export const CampaignStatus = z.enum([
  'draft',
  'scheduled',
  'launching',
  'running',
  'paused',
  'completed',
  'cancelled',
]);
export type CampaignStatus = z.infer<typeof CampaignStatus>;

/**
 * Each recipient counted once, by its furthest status, so
 * `excludedOptedOut + excludedInvalid + queued + sent + delivered + read + failed + cancelled = total`.
 * `paidAfter`: recipients with an invoice payment within 7 days after their message was sent.
 */
export const CampaignStats = z.object({
  total: z.number().int(),
  excludedOptedOut: z.number().int(),
  excludedInvalid: z.number().int(),
  queued: z.number().int(),
  sent: z.number().int(),
  delivered: z.number().int(),
  read: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  paidAfter: z.number().int(),
});
export type CampaignStats = z.infer<typeof CampaignStats>;

export const Campaign = z.object({
  id: Id,
  schoolId: Id,
  name: z.string(),
  templateId: Id,
  params: z.array(MessageParam),
  audience: Audience,
  status: CampaignStatus,
  scheduledAt: IsoDateTime.nullable(),
  launchedAt: IsoDateTime.nullable(),
  finishedAt: IsoDateTime.nullable(),
  createdAt: IsoDateTime,
  stats: CampaignStats,
});
export type Campaign = z.infer<typeof Campaign>;
export const CampaignList = paginated(Campaign);
export const ListCampaignsQuery = PaginationQuery.extend({
  schoolId: Id.optional(),
  status: CampaignStatus.optional(),
}).strict();

export const MessageStatus = z.enum([
  'excluded',
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'cancelled',
]);
export type MessageStatus = z.infer<typeof MessageStatus>;

/** One recipient of a campaign (the phone number masked). */
export const CampaignRecipient = z.object({
  messageId: Id,
  guardianId: Id.nullable(),
  guardianName: z.string().nullable(),
  phone: z.string(),
  status: MessageStatus,
  reason: z.string().nullable(),
  errorCode: z.string().nullable(),
  sentAt: IsoDateTime.nullable(),
  deliveredAt: IsoDateTime.nullable(),
  readAt: IsoDateTime.nullable(),
});
export const CampaignRecipientList = paginated(CampaignRecipient);
export const ListRecipientsQuery = PaginationQuery.extend({
  status: MessageStatus.optional(),
  format: z.enum(['json', 'csv']).default('json'),
}).strict();

/** `PATCH /notify/settings`: a school's quiet hours, reminder schedule and local opt-out words. */
export const MessagingSettings = z.object({
  schoolId: Id,
  /** `HH:MM` local times; both null for none. A window may cross midnight (21:00–07:00). */
  quietHoursStart: z.string().nullable(),
  quietHoursEnd: z.string().nullable(),
  /** Days from the due date a reminder goes out (-3 = three days before); sent while a balance is left. */
  reminderOffsets: z.array(z.number().int()),
  optOutKeywords: z.array(z.string()),
  optInKeywords: z.array(z.string()),
});
export type MessagingSettings = z.infer<typeof MessagingSettings>;

const LocalTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time HH:MM');
export const UpdateMessagingSettingsBody = z
  .strictObject({
    quietHours: z.strictObject({ start: LocalTime, end: LocalTime }).nullable().optional(),
    reminderOffsets: z
      .array(z.number().int().min(-60).max(120))
      .max(10)
      .refine((offsets) => new Set(offsets).size === offsets.length, 'each offset once')
      .optional(),
    optOutKeywords: z.array(z.string().trim().min(1).max(30)).max(10).optional(),
    optInKeywords: z.array(z.string().trim().min(1).max(30)).max(10).optional(),
    schoolId: Id.optional(),
  })
  .refine((body) => Object.keys(body).some((key) => key !== 'schoolId'), 'send at least one setting');
export type UpdateMessagingSettingsBody = z.infer<typeof UpdateMessagingSettingsBody>;

/** What `POST /notify/campaigns/:id/{launch,pause,resume,cancel}` answer: the campaign's new status. */
export const CampaignStatusChange = z.object({ id: Id, status: CampaignStatus });
export type CampaignStatusChange = z.infer<typeof CampaignStatusChange>;

/** `GET /notify/settings`: staff read their own school's; a platform admin names `schoolId`. */
export const MessagingSettingsQuery = z.strictObject({ schoolId: Id.optional() });
export type MessagingSettingsQuery = z.infer<typeof MessagingSettingsQuery>;
