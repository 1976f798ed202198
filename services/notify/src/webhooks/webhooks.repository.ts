import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';
import type { WhatsAppProviderName } from '@bursar/whatsapp';

/**
 * Stores a verified webhook byte-exact under the hash of its bytes. Returns
 * the new row's id, or null when the same body from the same provider is
 * stored already: a concurrent delivery waits for the first one's
 * transaction and then inserts nothing.
 */
export async function insertWhatsAppEvent(
  db: Kysely<DB> | Transaction<DB>,
  event: { provider: WhatsAppProviderName; body: Buffer; bodyHash: string },
): Promise<string | null> {
  const row = await db
    .insertInto('whatsappEvents')
    .values(event)
    .onConflict((conflict) => conflict.columns(['provider', 'bodyHash']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}
