import type { Migration } from 'kysely';
import * as m0001 from './0001-schools-and-people.js';
import * as m0002 from './0002-billing.js';
import * as m0003 from './0003-school-stats-version.js';
import * as m0004 from './0004-outbox.js';
import * as m0005 from './0005-user-changes.js';
import * as m0006 from './0006-online-payments.js';
import * as m0007 from './0007-documents.js';
import * as m0008 from './0008-whatsapp.js';
import * as m0009 from './0009-trace-through-triggers.js';
import * as m0010 from './0010-campaign-progress-index.js';
import * as m0011 from './0011-reports.js';
import * as m0012 from './0012-student-fee-heads.js';
import * as m0013 from './0013-report-covering-indexes.js';
import * as m0014 from './0014-unapplied-whatsapp-events-index.js';

/**
 * Every migration, in order. Forward-only: a migration that has shipped is
 * never edited; a change is a new file. Migrations take `Kysely<any>` and
 * never import application types, so they stay true to the day they were written.
 */
export const migrations: Record<string, Migration> = {
  '0001-schools-and-people': m0001,
  '0002-billing': m0002,
  '0003-school-stats-version': m0003,
  '0004-outbox': m0004,
  '0005-user-changes': m0005,
  '0006-online-payments': m0006,
  '0007-documents': m0007,
  '0008-whatsapp': m0008,
  '0009-trace-through-triggers': m0009,
  '0010-campaign-progress-index': m0010,
  '0011-reports': m0011,
  '0012-student-fee-heads': m0012,
  '0013-report-covering-indexes': m0013,
  '0014-unapplied-whatsapp-events-index': m0014,
};
