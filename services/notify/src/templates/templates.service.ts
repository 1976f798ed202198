import type { Kysely, Transaction } from 'kysely';
import {
  AppError,
  templatePlaceholders,
  type CreateTemplateBody,
  type ListTemplatesQuery,
  type Paginated,
  type Template,
  type UpdateTemplateBody,
} from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { constraintError, notFound, recordAudit, type Actor } from '@bursar/platform';
import {
  WhatsAppProviderError,
  type TemplateStatus as ProviderTemplateStatus,
  type TemplateSubmission,
  type WhatsAppProvider,
} from '@bursar/whatsapp';
import type { z } from 'zod';
import type { Config } from '../config.js';
import { schoolForWrite } from '../schools/schools.service.js';
import {
  deleteTemplate as deleteTemplateRow,
  findTemplate,
  insertTemplate,
  listTemplates as selectTemplates,
  TEMPLATE_NAME_KEY,
  TEMPLATE_PURPOSE_KEY,
  templateInUse,
  updateTemplate as updateTemplateRow,
  type TemplateRow,
} from './templates.repository.js';

type Db = Kysely<DB> | Transaction<DB>;

const WRITE_CONSTRAINTS = {
  [TEMPLATE_NAME_KEY]: () =>
    new AppError('conflict', 'The school already has a template with this name in this language'),
  [TEMPLATE_PURPOSE_KEY]: () =>
    new AppError(
      'conflict',
      'The school already has a template for this purpose; reject, delete or re-purpose that one first',
    ),
};

/** What a template submission needs beyond the template: the adapter, and Meta's sample for a document header. */
export interface SubmitDeps {
  db: Kysely<DB>;
  provider: WhatsAppProvider;
  config: Pick<Config, 'WHATSAPP_DOCUMENT_HEADER_HANDLE'>;
}

/** How many distinct `{{n}}` a body has; the contract already holds them to 1..n without gaps. */
export function countParams(body: string): number {
  return new Set(templatePlaceholders(body)).size;
}

function toTemplate(row: TemplateRow): Template {
  return {
    id: row.id,
    schoolId: row.schoolId,
    name: row.name,
    language: row.language,
    category: row.category as Template['category'],
    body: row.body,
    paramCount: row.paramCount,
    header: row.header as Template['header'],
    purpose: row.purpose as Template['purpose'],
    status: row.status as Template['status'],
    statusReason: row.statusReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Creates a draft template; a name already used in the language, or a purpose already taken, is a 409. */
export async function createTemplate(
  trx: Transaction<DB>,
  actor: Actor,
  body: CreateTemplateBody,
): Promise<Template> {
  const schoolId = await schoolForWrite(trx, actor.caller, body.schoolId);
  let created: Template;
  try {
    created = toTemplate(
      await insertTemplate(trx, {
        schoolId,
        name: body.name,
        language: body.language,
        category: body.category,
        body: body.body,
        paramCount: countParams(body.body),
        header: body.header,
        purpose: body.purpose ?? null,
      }),
    );
  } catch (error) {
    throw constraintError(error, WRITE_CONSTRAINTS);
  }
  await recordAudit(trx, actor, {
    action: 'whatsapp_template.create',
    entityType: 'whatsapp_template',
    entityId: created.id,
    schoolId,
    after: created,
  });
  return created;
}

/** One template; 404 outside the caller's school. */
export async function getTemplate(db: Db, scope: string | null, id: string): Promise<Template> {
  const row = await findTemplate(db, scope, id);
  if (!row) throw notFound('Template');
  return toTemplate(row);
}

export async function listTemplates(
  db: Db,
  scope: string | null,
  query: z.infer<typeof ListTemplatesQuery>,
): Promise<Paginated<Template>> {
  const { rows, total } = await selectTemplates(db, scope, query);
  return { data: rows.map(toTemplate), pagination: { limit: query.limit, offset: query.offset, total } };
}

/**
 * Changes a draft or a rejected template. Anything the provider has seen
 * (submitted, approved, paused) is what it approved, so it is a 409. Editing
 * a rejected template makes it a draft again, to be submitted anew; its old
 * rejection reason goes with it.
 */
export async function updateTemplate(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
  body: UpdateTemplateBody,
): Promise<Template> {
  const beforeRow = await findTemplate(trx, scope, id, true);
  if (!beforeRow) throw notFound('Template');
  if (beforeRow.status !== 'draft' && beforeRow.status !== 'rejected') {
    throw new AppError(
      'conflict',
      `The template is ${beforeRow.status}; only a draft or a rejected template can be changed`,
    );
  }
  let after: Template;
  try {
    after = toTemplate(
      await updateTemplateRow(trx, id, {
        ...(body.body !== undefined ? { body: body.body, paramCount: countParams(body.body) } : {}),
        ...(body.category !== undefined ? { category: body.category } : {}),
        ...(body.header !== undefined ? { header: body.header } : {}),
        ...(body.purpose !== undefined ? { purpose: body.purpose } : {}),
        ...(beforeRow.status === 'rejected' ? { status: 'draft', statusReason: null } : {}),
      }),
    );
  } catch (error) {
    throw constraintError(error, WRITE_CONSTRAINTS);
  }
  await recordAudit(trx, actor, {
    action: 'whatsapp_template.update',
    entityType: 'whatsapp_template',
    entityId: id,
    schoolId: after.schoolId,
    before: toTemplate(beforeRow),
    after,
  });
  return after;
}

/** Deletes a draft no campaign or message names; anything else is a 409 (reject or pause it instead). */
export async function deleteTemplate(
  trx: Transaction<DB>,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<void> {
  const beforeRow = await findTemplate(trx, scope, id, true);
  if (!beforeRow) throw notFound('Template');
  if (beforeRow.status !== 'draft') {
    throw new AppError('conflict', `The template is ${beforeRow.status}; only a draft can be deleted`);
  }
  const inUse = () => new AppError('conflict', 'A campaign uses this template; it cannot be deleted');
  if (await templateInUse(trx, id)) throw inUse();
  try {
    await deleteTemplateRow(trx, id);
  } catch (error) {
    // A campaign created between the check and the delete.
    throw constraintError(error, {
      whatsapp_campaigns_template_id_school_id_fkey: inUse,
      whatsapp_messages_template_id_fkey: inUse,
    });
  }
  await recordAudit(trx, actor, {
    action: 'whatsapp_template.delete',
    entityType: 'whatsapp_template',
    entityId: id,
    schoolId: beforeRow.schoolId,
    before: toTemplate(beforeRow),
  });
}

/** The provider's review state as the template's status: only a decision moves it past `submitted`. */
function statusAfterSubmission(status: ProviderTemplateStatus): 'submitted' | 'approved' | 'rejected' {
  if (status === 'approved') return 'approved';
  if (status === 'rejected') return 'rejected';
  return 'submitted';
}

/**
 * A provider's refusal as the client sees it: the template itself (Meta's
 * review rules, a name taken at Meta) is the caller's to fix, 422 with the
 * provider's words; the provider being down, throttling, or refusing Bursar's
 * credentials is not, 503.
 */
function submissionRefused(error: WhatsAppProviderError): AppError {
  const { outcome } = error;
  if (outcome.kind === 'permanent' && outcome.reason !== 'auth') {
    return new AppError('validation_failed', `The provider refused the template: ${outcome.title}`, {
      internal: error.message,
      errors: [{ path: 'template', message: outcome.title, code: `provider_${outcome.code}` }],
    });
  }
  const retryAfter =
    outcome.kind === 'rate_limited' && outcome.retryAfterMs !== undefined
      ? { 'Retry-After': String(Math.ceil(outcome.retryAfterMs / 1000)) }
      : undefined;
  return new AppError(
    'service_unavailable',
    outcome.kind === 'permanent'
      ? 'The WhatsApp provider refused Bursar’s credentials; an operator has to fix them'
      : 'The WhatsApp provider could not take the template now; try again shortly',
    { internal: error.message, ...(retryAfter ? { headers: retryAfter } : {}) },
  );
}

function submissionOf(row: TemplateRow, headerHandle: string | undefined): TemplateSubmission {
  return {
    name: row.name,
    language: row.language,
    category: row.category.toUpperCase() as TemplateSubmission['category'],
    bodyText: row.body,
    // Meta refuses variables without examples; the facts are chosen per campaign, so the examples are neutral.
    bodyExample: Array.from({ length: row.paramCount }, (_, index) => `example ${index + 1}`),
    ...(row.header === 'document' && headerHandle ? { documentHeader: { exampleHandle: headerHandle } } : {}),
  };
}

/**
 * Submits a draft for the provider's review and stores the provider's id of
 * it. The row stays locked while the provider is asked (at most its 10 s
 * timeout), so an edit or a second submit waits rather than racing the
 * review. The status follows the provider's answer: Meta may approve or
 * reject at once, and otherwise the review webhook (applied by the worker)
 * decides later. A provider without a submission API (Gupshup: templates are
 * submitted in its console) is a 409 that says so.
 */
export async function submitTemplate(
  deps: SubmitDeps,
  actor: Actor,
  scope: string | null,
  id: string,
): Promise<Template> {
  const { provider } = deps;
  return deps.db.transaction().execute(async (trx) => {
    const beforeRow = await findTemplate(trx, scope, id, true);
    if (!beforeRow) throw notFound('Template');
    if (beforeRow.status !== 'draft') {
      throw new AppError('conflict', `The template is ${beforeRow.status}; only a draft can be submitted`);
    }
    if (!provider.submitTemplate) {
      throw new AppError(
        'conflict',
        `The ${provider.name} provider takes no template submissions from Bursar: submit the template in ` +
          `${provider.name}’s own console`,
      );
    }
    const handle = deps.config.WHATSAPP_DOCUMENT_HEADER_HANDLE;
    if (beforeRow.header === 'document' && !handle) {
      throw new AppError(
        'conflict',
        'A template with a document header needs a sample document at the provider; ' +
          'an operator has to set WHATSAPP_DOCUMENT_HEADER_HANDLE first',
      );
    }
    let answer: Awaited<ReturnType<NonNullable<WhatsAppProvider['submitTemplate']>>>;
    try {
      answer = await provider.submitTemplate(submissionOf(beforeRow, handle));
    } catch (error) {
      if (error instanceof WhatsAppProviderError) throw submissionRefused(error);
      throw error;
    }
    const after = toTemplate(
      await updateTemplateRow(trx, id, {
        status: statusAfterSubmission(answer.status),
        providerTemplateId: answer.providerTemplateId,
        statusReason: null,
      }),
    );
    await recordAudit(trx, actor, {
      action: 'whatsapp_template.submit',
      entityType: 'whatsapp_template',
      entityId: id,
      schoolId: after.schoolId,
      before: toTemplate(beforeRow),
      after: { ...after, providerTemplateId: answer.providerTemplateId },
    });
    return after;
  });
}
