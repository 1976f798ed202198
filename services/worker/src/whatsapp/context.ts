import type { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type { Logger, OutboxRelay } from '@bursar/platform';
import type { WhatsAppProvider } from '@bursar/whatsapp';

/** What the WhatsApp processors use besides the database. */
export interface WhatsAppDeps {
  provider: WhatsAppProvider;
  /** The business number Bursar sends from; opt-outs are kept per phone and this number. */
  businessNumber: string;
  /** The send queue, to pause it for a while when the provider says it is over its rate. */
  sendQueue: Pick<Queue, 'rateLimit'>;
  /**
   * A message whose attempt is recorded but whose outcome never came back (the
   * worker died in the call) is sent again only after this long without a
   * status webhook for it: the provider's webhooks arrive within seconds of
   * accepting a message, so one that has said nothing by then did not take it.
   */
  reconcileAfterMs: number;
  /** Bursar's signed public address of a document's current PDF (for document headers). */
  documentUrl: (kind: 'invoice' | 'receipt', subjectId: string) => string;
  /** The pay link printed on invoices, for the `payLink` fact. */
  payLink: (invoiceId: string) => string;
}

/** The processor context the WhatsApp processors are typed on (a subset of the worker's). */
export interface WhatsAppContext {
  db: Kysely<DB>;
  logger: Logger;
  outbox: Pick<OutboxRelay, 'kick'>;
  whatsapp: WhatsAppDeps;
}
