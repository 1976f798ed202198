import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, Documents } from '@bursar/db';
import type { ObjectStorage } from '@bursar/storage';
import { documentHash, renderInvoicePdf, renderReceiptPdf } from './render.js';
import { loadInvoiceDocument, loadReceiptDocument, type LoadOptions } from './load.js';
import type { RenderResult } from './model.js';

export type DocumentKind = 'invoice' | 'receipt';

/** A stored version of a document (a `documents` row). */
export interface StoredDocument {
  id: string;
  kind: DocumentKind;
  subjectId: string;
  schoolId: string;
  version: number;
  contentHash: string;
  storageKey: string;
  byteSize: number;
  pages: number;
  /** The invoice's status and balance when rendered (invoices only). */
  status: string | null;
  balanceMinor: bigint | null;
  createdAt: Date;
}

export interface PublishDeps extends LoadOptions {
  db: Kysely<DB>;
  storage: ObjectStorage;
  /** Told what a render left out (a logo it could not read). */
  warn?: (message: string, detail: Record<string, unknown>) => void;
}

/**
 * Runs in the publishing transaction once the current version is known
 * (stored just now or found unchanged), so what the caller records about it
 * (a batch item done) commits with it or not at all.
 */
export type WithinPublish = (trx: Transaction<DB>, document: StoredDocument) => Promise<void>;

export interface PublishResult {
  document: StoredDocument;
  /** False when the latest version was already rendered from the same state (nothing rendered or stored). */
  rendered: boolean;
  warnings: string[];
}

/** Where a version's bytes are kept: derived from ids and the content hash only, never from user input. */
export function documentKey(kind: DocumentKind, schoolId: string, subjectId: string, hash: string): string {
  return `schools/${schoolId}/${kind}s/${subjectId}/${hash.slice(0, 32)}.pdf`;
}

function toStored(row: Selectable<Documents>): StoredDocument {
  return { ...row, id: String(row.id), kind: row.kind as DocumentKind };
}

/** The current (highest) version of a document, if one was stored. */
export async function latestDocument(
  db: Kysely<DB> | Transaction<DB>,
  kind: DocumentKind,
  subjectId: string,
): Promise<StoredDocument | undefined> {
  const row = await db
    .selectFrom('documents')
    .selectAll()
    .where('kind', '=', kind)
    .where('subjectId', '=', subjectId)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toStored(row);
}

/**
 * Renders and stores a new version unless the latest was rendered from the
 * same model. Runs under a transaction-scoped advisory lock per document, so
 * two renders of one invoice (a payment and a batch at once) take turns, and
 * the later one reads the later state: the highest version is always the
 * newest state. The file is stored before its row commits, under a key named
 * by its content hash, so a crash leaves at most an unreferenced file, and a
 * retry writes the same bytes to the same key.
 */
async function publish<M>(
  deps: PublishDeps,
  kind: DocumentKind,
  subjectId: string,
  load: (
    trx: Transaction<DB>,
  ) => Promise<{ model: M; schoolId: string; status?: string; balanceMinor?: bigint } | undefined>,
  render: (model: M) => Promise<RenderResult>,
  within?: WithinPublish,
): Promise<PublishResult | undefined> {
  return deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`document:${kind}:${subjectId}`}, 0))`.execute(
      trx,
    );
    const loaded = await load(trx);
    if (!loaded) return undefined;
    const hash = documentHash(loaded.model as never);
    const latest = await latestDocument(trx, kind, subjectId);
    if (latest && latest.contentHash === hash) {
      await within?.(trx, latest);
      return { document: latest, rendered: false, warnings: [] };
    }
    const result = await render(loaded.model);
    if (result.warnings.length) {
      deps.warn?.('document rendered with omissions', { kind, subjectId, warnings: result.warnings });
    }
    const storageKey = documentKey(kind, loaded.schoolId, subjectId, hash);
    await deps.storage.put(storageKey, result.bytes, { contentType: 'application/pdf' });
    const row = await trx
      .insertInto('documents')
      .values({
        kind,
        subjectId,
        schoolId: loaded.schoolId,
        version: (latest?.version ?? 0) + 1,
        contentHash: hash,
        storageKey,
        byteSize: result.bytes.length,
        pages: result.pages,
        status: loaded.status ?? null,
        balanceMinor: loaded.balanceMinor ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const document = toStored(row);
    await within?.(trx, document);
    return { document, rendered: true, warnings: result.warnings };
  });
}

/**
 * Makes sure the invoice's current PDF is stored; undefined when the invoice
 * does not exist. `within` runs in the same transaction (see {@link WithinPublish}).
 */
export function publishInvoiceDocument(
  deps: PublishDeps,
  invoiceId: string,
  within?: WithinPublish,
): Promise<PublishResult | undefined> {
  return publish(
    deps,
    'invoice',
    invoiceId,
    (trx) => loadInvoiceDocument(trx, invoiceId, deps),
    renderInvoicePdf,
    within,
  );
}

/** Makes sure the payment's current receipt PDF is stored; undefined when the payment does not exist. */
export function publishReceiptDocument(
  deps: PublishDeps,
  paymentId: string,
  within?: WithinPublish,
): Promise<PublishResult | undefined> {
  return publish(
    deps,
    'receipt',
    paymentId,
    (trx) => loadReceiptDocument(trx, paymentId, deps),
    renderReceiptPdf,
    within,
  );
}
