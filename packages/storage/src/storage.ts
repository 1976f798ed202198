import { PassThrough, type Readable } from 'node:stream';

/** A stored object as `get` returns it: the bytes as a stream, so callers can pipe or zip files without holding them. */
export interface StoredObject {
  /** The object's bytes. Read it to the end or destroy it: until then it holds a file handle or a connection. */
  body: Readable;
  /** Length of `body` in bytes. */
  size: number;
  contentType: string;
}

/** What `put` needs besides the bytes. */
export interface PutOptions {
  contentType: string;
}

/**
 * Where Bursar keeps generated files (invoice and receipt PDFs, logos). One
 * interface, a filesystem and an S3 driver; see README.md for which to use.
 * Every method refuses a malformed key with a plain Error (see
 * `assertStorageKey`) and reports any failure of the storage itself as a
 * `StorageError`.
 */
export interface ObjectStorage {
  /** Stores `body` under `key`, replacing what was there; readers see the old object or the new one, never part of one. */
  put(key: string, body: Buffer, options: PutOptions): Promise<void>;
  /** The object under `key` as a stream, or null when there is none. */
  get(key: string): Promise<StoredObject | null>;
  /** The whole object under `key` in memory, or null when there is none. For small objects (logos). */
  getBuffer(key: string): Promise<Buffer | null>;
  exists(key: string): Promise<boolean>;
  /** Removes the object under `key`; a key with no object is not an error. */
  delete(key: string): Promise<void>;
  /** Readiness: resolves when the storage answers and accepts a write, throws a `StorageError` otherwise. */
  check(): Promise<void>;
  /** Where the objects go, for logs (never a credential). */
  describe(): string;
}

/** The storage operation a `StorageError` comes from. */
export type StorageOperation = 'put' | 'get' | 'exists' | 'delete' | 'check';

/**
 * The storage itself failed (not the caller's key). `transient` says whether
 * the same call may succeed later — network errors, timeouts, 5xx, throttling,
 * a full disk — so a job retries it with backoff; otherwise (access denied, no
 * such bucket, bad credentials) retrying cannot help and the job fails for good.
 * The driver's own error is the `cause`.
 */
export class StorageError extends Error {
  readonly transient: boolean;
  readonly key: string;
  readonly operation: StorageOperation;

  constructor(
    message: string,
    options: { key: string; operation: StorageOperation; transient: boolean; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = 'StorageError';
    this.key = options.key;
    this.operation = options.operation;
    this.transient = options.transient;
  }
}

/** The longest key accepted, in characters. */
export const MAX_KEY_LENGTH = 512;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Throws a plain Error unless `key` is `/`-separated segments of
 * `[A-Za-z0-9._-]`, none empty, `.` or `..`, at most 512 characters. Keys are
 * built by code from ids, so a bad one is a programming error, not a storage
 * failure; refusing it here also keeps the filesystem driver inside its root
 * and both drivers agreeing on what a key is.
 */
export function assertStorageKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new Error(`invalid storage key ${describeKey(key)}: must be 1 to ${MAX_KEY_LENGTH} characters`);
  }
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new Error(
        `invalid storage key ${describeKey(key)}: segments of [A-Za-z0-9._-] separated by /, ` +
          'none empty, "." or ".."',
      );
    }
  }
}

function describeKey(key: unknown): string {
  if (typeof key !== 'string') return `(${typeof key})`;
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);
}

/**
 * `source` with its errors turned into StorageErrors by `toError`, so a read
 * that fails half-way (connection reset, disk error) reaches the caller as the
 * same kind of failure as one that fails at once. Destroying the returned
 * stream destroys `source`, which closes its file or connection.
 */
export function withStorageErrors(source: Readable, toError: (error: unknown) => StorageError): Readable {
  const guarded = new PassThrough();
  source.on('error', (error) => guarded.destroy(toError(error)));
  guarded.on('close', () => source.destroy());
  source.pipe(guarded);
  return guarded;
}

/** Reads `stream` to its end. */
export async function readToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}
