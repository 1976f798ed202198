import type { IncomingHttpHeaders } from 'node:http';
import type { Kysely, Transaction } from 'kysely';
import type { PaymentProvider } from '@bursar/contracts';
import type { DB } from '@bursar/db';

/** The inbox's uniqueness: one row per provider event, however often it is delivered. */
export const PROVIDER_EVENT_KEY = 'provider_events_provider_event_id_key';

export interface NewProviderEvent {
  provider: PaymentProvider;
  eventId: string;
  eventType: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: 'received' | 'ignored';
}

/**
 * Stores a verified webhook byte-exact. Returns the new row's id, or null when
 * this event is already stored: a concurrent delivery of the same event waits
 * for the first one's transaction and then inserts nothing.
 */
export async function insertProviderEvent(
  db: Kysely<DB> | Transaction<DB>,
  event: NewProviderEvent,
): Promise<string | null> {
  const row = await db
    .insertInto('providerEvents')
    .values({
      provider: event.provider,
      eventId: event.eventId,
      eventType: event.eventType,
      // As JSON text: the pool's CamelCasePlugin would rename keys inside a jsonb value it reads.
      headers: JSON.stringify(event.headers),
      body: event.body,
      status: event.status,
      ...(event.status === 'ignored' ? { processedAt: new Date(), detail: 'event type not handled' } : {}),
    })
    .onConflict((conflict) => conflict.constraint(PROVIDER_EVENT_KEY).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}
