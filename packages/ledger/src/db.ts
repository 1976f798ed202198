import type { Kysely, Transaction } from 'kysely';
import type { DB } from '@bursar/db';

/** Ledger functions take either; the ones that change money require a transaction. */
export type Db = Kysely<DB> | Transaction<DB>;
export type Trx = Transaction<DB>;
