import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { DB, WhatsappTemplates } from '@bursar/db';
import { liveSchoolIds } from '../schools/schools.repository.js';

type Db = Kysely<DB> | Transaction<DB>;

const COLUMNS = [
  'whatsappTemplates.id',
  'whatsappTemplates.schoolId',
  'whatsappTemplates.name',
  'whatsappTemplates.language',
  'whatsappTemplates.category',
  'whatsappTemplates.body',
  'whatsappTemplates.paramCount',
  'whatsappTemplates.header',
  'whatsappTemplates.purpose',
  'whatsappTemplates.status',
  'whatsappTemplates.statusReason',
  'whatsappTemplates.providerTemplateId',
  'whatsappTemplates.createdAt',
  'whatsappTemplates.updatedAt',
] as const;

export type TemplateRow = Awaited<ReturnType<typeof insertTemplate>>;

/** Unique (school, name, language): the name Meta knows a template by. */
export const TEMPLATE_NAME_KEY = 'whatsapp_templates_school_id_name_language_key';
/** At most one template per purpose and school that is not rejected. */
export const TEMPLATE_PURPOSE_KEY = 'whatsapp_templates_purpose_key';

/** A template of a live school within `scope` (null: any school); `lock` takes it FOR UPDATE. */
export function findTemplate(db: Db, scope: string | null, id: string, lock = false) {
  let query = db
    .selectFrom('whatsappTemplates')
    .select(COLUMNS)
    .where('whatsappTemplates.id', '=', id)
    .where('whatsappTemplates.schoolId', 'in', liveSchoolIds(db));
  if (scope) query = query.where('whatsappTemplates.schoolId', '=', scope);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/** A page of templates, newest first, and how many match. */
export async function listTemplates(
  db: Db,
  scope: string | null,
  filter: { status?: string | undefined; limit: number; offset: number },
) {
  let base = db.selectFrom('whatsappTemplates').where('whatsappTemplates.schoolId', 'in', liveSchoolIds(db));
  if (scope) base = base.where('whatsappTemplates.schoolId', '=', scope);
  if (filter.status) base = base.where('whatsappTemplates.status', '=', filter.status);
  const [rows, count] = await Promise.all([
    base
      .select(COLUMNS)
      .orderBy('whatsappTemplates.createdAt', 'desc')
      .orderBy('whatsappTemplates.id')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    base.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.total };
}

export function insertTemplate(db: Db, values: Insertable<WhatsappTemplates>) {
  return db.insertInto('whatsappTemplates').values(values).returning(COLUMNS).executeTakeFirstOrThrow();
}

export function updateTemplate(db: Db, id: string, values: Updateable<WhatsappTemplates>) {
  return db
    .updateTable('whatsappTemplates')
    .set({ ...values, updatedAt: sql`now()` })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteTemplate(db: Db, id: string): Promise<void> {
  await db.deleteFrom('whatsappTemplates').where('id', '=', id).execute();
}

/** Whether a campaign or a message names the template (either keeps it from being deleted). */
export async function templateInUse(db: Db, id: string): Promise<boolean> {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .or([
          eb.exists(eb.selectFrom('whatsappCampaigns').select('id').where('templateId', '=', id)),
          eb.exists(eb.selectFrom('whatsappMessages').select('id').where('templateId', '=', id)),
        ])
        .as('used'),
    ])
    .executeTakeFirstOrThrow();
  return Boolean(row.used);
}
