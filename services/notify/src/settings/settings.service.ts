import type { Kysely, Transaction } from 'kysely';
import type { MessagingSettings, UpdateMessagingSettingsBody } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import {
  fieldError,
  notFound,
  readScope,
  recordAudit,
  writeSchool,
  type Actor,
  type Caller,
} from '@bursar/platform';
import {
  findSettings,
  updateSettings,
  type SettingsRow,
  type SettingsValues,
} from './settings.repository.js';

type Db = Kysely<DB> | Transaction<DB>;

/** `HH:MM` of a PostgreSQL `time` (which arrives as `HH:MM:SS`). */
function localTime(value: string | null): string | null {
  return value === null ? null : value.slice(0, 5);
}

function toSettings(row: SettingsRow): MessagingSettings {
  return {
    schoolId: row.id,
    quietHoursStart: localTime(row.quietHoursStart),
    quietHoursEnd: localTime(row.quietHoursEnd),
    reminderOffsets: row.reminderOffsets,
    optOutKeywords: row.optOutKeywords,
    optInKeywords: row.optInKeywords,
  };
}

/** Keywords as inbound messages are matched against them: trimmed, lower case, each once. */
export function normaliseKeywords(words: string[]): string[] {
  return [...new Set(words.map((word) => word.trim().toLowerCase()))];
}

/** A school's messaging settings: staff read their own school's; a platform admin names `schoolId`. */
export async function getSettings(
  db: Db,
  caller: Caller,
  requested: string | undefined,
): Promise<MessagingSettings> {
  const schoolId = readScope(caller, requested);
  if (!schoolId) throw fieldError('query.schoolId', 'required for platform admins');
  const row = await findSettings(db, schoolId);
  if (!row) throw notFound('School');
  return toSettings(row);
}

/**
 * Changes the settings sent, leaving the others as they are. A quiet-hours
 * window may cross midnight but must not be empty (start = end would mean
 * either never or always); a word cannot be both an opt-out and an opt-in
 * word, since a guardian sending it would be both.
 */
export async function changeSettings(
  trx: Transaction<DB>,
  actor: Actor,
  body: UpdateMessagingSettingsBody,
): Promise<MessagingSettings> {
  const schoolId = writeSchool(actor.caller, body.schoolId);
  const beforeRow = await findSettings(trx, schoolId, true);
  if (!beforeRow) throw notFound('School');
  const values: SettingsValues = {};
  if (body.quietHours === null) {
    values.quietHoursStart = null;
    values.quietHoursEnd = null;
  } else if (body.quietHours) {
    if (body.quietHours.start === body.quietHours.end) {
      throw fieldError('body.quietHours', 'start and end must differ (send null for no quiet hours)');
    }
    values.quietHoursStart = body.quietHours.start;
    values.quietHoursEnd = body.quietHours.end;
  }
  if (body.reminderOffsets) values.reminderOffsets = [...body.reminderOffsets].sort((a, b) => a - b);
  if (body.optOutKeywords) values.optOutKeywords = normaliseKeywords(body.optOutKeywords);
  if (body.optInKeywords) values.optInKeywords = normaliseKeywords(body.optInKeywords);
  const optOut = new Set(values.optOutKeywords ?? beforeRow.optOutKeywords);
  const both = (values.optInKeywords ?? beforeRow.optInKeywords).filter((word) => optOut.has(word));
  if (both.length) {
    throw fieldError(
      body.optInKeywords ? 'body.optInKeywords' : 'body.optOutKeywords',
      `a word cannot both opt out and opt in: ${both.join(', ')}`,
    );
  }
  const after = toSettings(await updateSettings(trx, schoolId, values));
  await recordAudit(trx, actor, {
    action: 'school.messaging_settings.update',
    entityType: 'school',
    entityId: schoolId,
    schoolId,
    before: toSettings(beforeRow),
    after,
  });
  return after;
}
