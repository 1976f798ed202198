import { context, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB, Documents } from '@bursar/db';
import type { ObjectStorage } from '@bursar/storage';
import { documentHash, renderInvoicePdf, renderReceiptPdf } from './render.js';
import { loadInvoiceDocuments, loadReceiptDocument, type LoadOptions } from './load.js';
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

/**
 * {@link WithinPublish} for several documents at once: the current version of
 * each one that exists, by subject id.
 */
export type WithinPublishAll = (
  trx: Transaction<DB>,
  documents: Map<string, StoredDocument>,
) => Promise<void>;

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
  return (await latestDocuments(db, kind, [subjectId])).get(subjectId);
}

/** The current version of each document that has one, by subject id, in one query. */
export async function latestDocuments(
  db: Kysely<DB> | Transaction<DB>,
  kind: DocumentKind,
  subjectIds: readonly string[],
): Promise<Map<string, StoredDocument>> {
  const latest = new Map<string, StoredDocument>();
  if (subjectIds.length === 0) return latest;
  const rows = await db
    .selectFrom('documents')
    .selectAll()
    .distinctOn('subjectId')
    .where('kind', '=', kind)
    .where('subjectId', 'in', [...subjectIds])
    .orderBy('subjectId')
    .orderBy('version', 'desc')
    .execute();
  for (const row of rows) latest.set(row.subjectId, toStored(row));
  return latest;
}

interface Loaded<M> {
  model: M;
  schoolId: string;
  status?: string;
  balanceMinor?: bigint;
}

/**
 * Renders and stores a new version of each document unless its latest was
 * rendered from the same model, in one transaction: a bulk render publishes a
 * chunk of invoices with a handful of statements instead of a handful each.
 *
 * Runs under a transaction-scoped advisory lock per document, taken in one
 * statement in a fixed order (so two publishers of overlapping sets cannot
 * deadlock): two renders of one invoice (a payment and a batch at once) take
 * turns, and the later one reads the later state, so the highest version is
 * always the newest state. Each file is stored before its row commits, under
 * a key named by its content hash, so a crash leaves at most an unreferenced
 * file, and a retry writes the same bytes to the same key. A file is written
 * while the next document renders (its waits overlap the rendering), and
 * every write has finished, or failed the whole publish, before any row is
 * inserted.
 */
async function publishAll<M>(
  deps: PublishDeps,
  kind: DocumentKind,
  subjectIds: readonly string[],
  load: (trx: Transaction<DB>, ids: string[]) => Promise<Map<string, Loaded<M>>>,
  render: (model: M) => Promise<RenderResult>,
  within?: WithinPublishAll,
): Promise<Map<string, PublishResult>> {
  const ids = [...new Set(subjectIds)].sort();
  return deps.db.transaction().execute(async (trx) => {
    // Its own statement: the reads after it must take their snapshot once every lock is held.
    await sql`select pg_advisory_xact_lock(hashtextextended(${`document:${kind}:`} || id, 0))
      from unnest(${ids}::text[]) with ordinality as locks (id, n) order by n`.execute(trx);
    const loaded = await load(trx, ids);
    const latest = await latestDocuments(trx, kind, [...loaded.keys()]);
    const results = new Map<string, PublishResult>();
    const rows: Insertable<Documents>[] = [];
    const warnings = new Map<string, string[]>();
    const stores: Promise<void>[] = [];
    try {
      for (const id of ids) {
        const subject = loaded.get(id);
        if (!subject) continue;
        const hash = documentHash(subject.model as never);
        const previous = latest.get(id);
        if (previous && previous.contentHash === hash) {
          results.set(id, { document: previous, rendered: false, warnings: [] });
          continue;
        }
        const result = await render(subject.model);
        if (result.warnings.length) {
          deps.warn?.('document rendered with omissions', { kind, subjectId: id, warnings: result.warnings });
        }
        const storageKey = documentKey(kind, subject.schoolId, id, hash);
        // Stored while the next one renders: the write's waits (a flush to disk, an upload)
        // overlap the rendering instead of adding to it. Every write is done before any row is.
        const stored = deps.storage.put(storageKey, result.bytes, { contentType: 'application/pdf' });
        // Heard below (allSettled); this only keeps a failure from counting as unhandled meanwhile.
        stored.catch(() => undefined);
        stores.push(stored);
        warnings.set(id, result.warnings);
        rows.push({
          kind,
          subjectId: id,
          schoolId: subject.schoolId,
          version: (previous?.version ?? 0) + 1,
          contentHash: hash,
          storageKey,
          byteSize: result.bytes.length,
          pages: result.pages,
          status: subject.status ?? null,
          balanceMinor: subject.balanceMinor ?? null,
        });
      }
    } catch (error) {
      // No write is left unheard: each settles before the transaction rolls back.
      await Promise.allSettled(stores);
      throw error;
    }
    const failed = (await Promise.allSettled(stores)).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    if (rows.length) {
      for (const row of await trx.insertInto('documents').values(rows).returningAll().execute()) {
        results.set(row.subjectId, {
          document: toStored(row),
          rendered: true,
          warnings: warnings.get(row.subjectId)!,
        });
      }
    }
    await within?.(trx, new Map([...results].map(([id, result]) => [id, result.document])));
    return results;
  });
}

/** One document through {@link publishAll}; undefined when its subject does not exist. */
async function publishOne<M>(
  deps: PublishDeps,
  kind: DocumentKind,
  subjectId: string,
  load: (trx: Transaction<DB>, ids: string[]) => Promise<Map<string, Loaded<M>>>,
  render: (model: M) => Promise<RenderResult>,
  within?: WithinPublish,
): Promise<PublishResult | undefined> {
  const results = await publishAll(deps, kind, [subjectId], load, render, async (trx, documents) => {
    const document = documents.get(subjectId);
    if (document) await within?.(trx, document);
  });
  return results.get(subjectId);
}

/** A single invoice's publish, waiting to go with the others asked for meanwhile. */
interface PendingPublish {
  invoiceId: string;
  within?: WithinPublish;
  /** The asker's context (its job's span): the publish that serves it is a child of the first asker's, linked from the others'. */
  caller: Context;
  resolve: (result: PublishResult | undefined) => void;
  reject: (error: unknown) => void;
}

/** The single-invoice publishes of one set of deps (one process's worker). */
interface PublishLine {
  waiting: PendingPublish[];
  /** Whether a drain is on (it runs until nothing waits). */
  running: boolean;
  /** How many the last run took: how many the next one waits for, up to {@link GATHER_MS}. */
  lastRun: number;
  /** Called as each call joins while the drain gathers a run. */
  joined?: () => void;
}

/** Invoices one coalesced publish takes at most (one transaction renders them in turn). */
export const MAX_COALESCED_PUBLISH = 16;

/** How long a run waits for as many calls as the last run had, when fewer wait. */
export const GATHER_MS = 5;

const publishLines = new WeakMap<PublishDeps, PublishLine>();
const tracer = trace.getTracer('@bursar/documents');

/**
 * Makes sure the invoice's current PDF is stored; undefined when the invoice
 * does not exist. `within` runs in the same transaction (see {@link WithinPublish}).
 *
 * Calls made with the same `deps` go together, up to
 * {@link MAX_COALESCED_PUBLISH} at a time, through one
 * {@link publishInvoiceDocuments} transaction: its begin, lock, reads, insert
 * and commit are paid once for them all, not once each. A worker's
 * concurrent render jobs are the case: each run takes the calls that waited
 * while the one before it was published, and when fewer wait than the last
 * run took it gives the others (the jobs the finished ones made room for) up
 * to {@link GATHER_MS} to join. So one call at a time goes at once, and a
 * worker at concurrency 4 publishes four invoices per transaction. When a
 * coalesced publish fails, each of its invoices is published again alone, so
 * an invoice that cannot be rendered fails only its own call. A `within`
 * must not publish an invoice itself through the same deps (it would wait
 * for its own publish).
 */
export function publishInvoiceDocument(
  deps: PublishDeps,
  invoiceId: string,
  within?: WithinPublish,
): Promise<PublishResult | undefined> {
  const line = publishLines.get(deps) ?? { waiting: [], running: false, lastRun: 1 };
  publishLines.set(deps, line);
  return new Promise((resolve, reject) => {
    line.waiting.push({ invoiceId, within, caller: context.active(), resolve, reject });
    line.joined?.();
    if (line.running) return;
    line.running = true;
    // On the next turn of the event loop, so calls made in this one go together.
    setImmediate(() => void drain(deps, line));
  });
}

/** Publishes what is waiting, a run at a time, until nothing is; never rejects (each call hears its own outcome). */
async function drain(deps: PublishDeps, line: PublishLine): Promise<void> {
  try {
    while (line.waiting.length) {
      if (line.waiting.length < line.lastRun) await gather(line);
      const run = line.waiting.splice(0, MAX_COALESCED_PUBLISH);
      line.lastRun = run.length;
      try {
        await publishTogether(deps, run);
      } catch (error) {
        // Only a failure outside the publish itself (the tracer's) gets here: the run hears it.
        for (const pending of run) pending.reject(error);
      }
    }
  } finally {
    line.running = false;
  }
}

/** Resolves once as many calls wait as the last run took, or after {@link GATHER_MS}. */
function gather(line: PublishLine): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      line.joined = undefined;
      resolve();
    };
    const timer = setTimeout(done, GATHER_MS);
    line.joined = () => {
      if (line.waiting.length >= line.lastRun) done();
    };
  });
}

/**
 * One run of the line in one transaction, in a span that is a child of the
 * first caller's and links to the others'. Each caller's `within` runs in
 * that caller's own context, so what it enqueues (the first version's
 * WhatsApp message) carries its own job's trace; a caller published alone
 * after a failed run is published in its own context too. A promise of each
 * caller settles, whatever happens.
 */
async function publishTogether(deps: PublishDeps, run: PendingPublish[]): Promise<void> {
  const links = run.slice(1).flatMap((pending) => {
    const caller = trace.getSpanContext(pending.caller);
    return caller ? [{ context: caller }] : [];
  });
  await tracer.startActiveSpan(
    'documents.publish invoice',
    { attributes: { 'bursar.documents.count': run.length }, links },
    run[0]!.caller,
    async (span) => {
      try {
        const results = await publishAll(
          deps,
          'invoice',
          run.map((pending) => pending.invoiceId),
          loadInvoices(deps),
          renderInvoicePdf,
          async (trx, documents) => {
            for (const { invoiceId, within, caller } of run) {
              const document = documents.get(invoiceId);
              if (document && within) await context.with(caller, within, undefined, trx, document);
            }
          },
        );
        for (const pending of run) pending.resolve(results.get(pending.invoiceId));
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        if (run.length === 1) {
          run[0]!.reject(error);
          return;
        }
        // One of them (or its `within`) failed the transaction: each alone, so only that one fails.
        for (const { invoiceId, within, caller, resolve, reject } of run) {
          const alone = () =>
            publishOne(deps, 'invoice', invoiceId, loadInvoices(deps), renderInvoicePdf, within);
          await context.with(caller, alone).then(resolve, reject);
        }
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Makes sure each invoice's current PDF is stored, in one transaction; the
 * result holds the invoices that exist. `within` sees the current version of
 * each of them before it commits.
 */
export function publishInvoiceDocuments(
  deps: PublishDeps,
  invoiceIds: readonly string[],
  within?: WithinPublishAll,
): Promise<Map<string, PublishResult>> {
  return publishAll(deps, 'invoice', invoiceIds, loadInvoices(deps), renderInvoicePdf, within);
}

function loadInvoices(deps: PublishDeps) {
  return (trx: Transaction<DB>, ids: string[]) => loadInvoiceDocuments(trx, ids, deps);
}

/** Makes sure the payment's current receipt PDF is stored; undefined when the payment does not exist. */
export function publishReceiptDocument(
  deps: PublishDeps,
  paymentId: string,
  within?: WithinPublish,
): Promise<PublishResult | undefined> {
  return publishOne(
    deps,
    'receipt',
    paymentId,
    async (trx) => {
      const loaded = await loadReceiptDocument(trx, paymentId, deps);
      return new Map(loaded ? [[paymentId, loaded]] : []);
    },
    renderReceiptPdf,
    within,
  );
}
