import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  assertStorageKey,
  readToBuffer,
  StorageError,
  withStorageErrors,
  type ObjectStorage,
  type StorageOperation,
  type StoredObject,
} from './storage.js';

/** Content types the filesystem driver derives from a key's extension; any other extension is `application/octet-stream`. */
export const CONTENT_TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

/** The content type the filesystem driver gives the object under `key`. */
export function contentTypeForKey(key: string): string {
  return CONTENT_TYPES_BY_EXTENSION[extname(key).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * `~` is outside the key alphabet, so no key ever names a temporary file
 * (even one a crash left behind) or the readiness probe.
 */
const TEMP_SUFFIX = '~tmp';
const PROBE_NAME = '.storage-check~';

/** What `createFsStorage` needs. */
export interface FsStorageOptions {
  /** Directory the objects live under; resolved against the process's working directory, created on first write. */
  root: string;
}

/**
 * Objects as plain files under `root`, a key's segments as directories (for
 * development, tests and single-machine installs). The content type is not
 * stored: it is derived from the key's extension (`contentTypeForKey`), which
 * keeps each object a single file that one rename replaces whole, and `put`
 * refuses a content type the extension would not give back, so `get` never
 * answers a different one than was put. Empty directories left by `delete`
 * stay.
 */
export function createFsStorage(options: FsStorageOptions): ObjectStorage {
  const root = resolve(options.root);

  function pathOf(key: string): string {
    assertStorageKey(key);
    const path = resolve(root, key);
    // assertStorageKey already refuses `..`; this keeps the root a boundary even if that rule changes.
    const inside = relative(root, path);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new Error(`storage key ${JSON.stringify(key)} resolves outside ${root}`);
    }
    return path;
  }

  function failure(operation: StorageOperation, key: string, error: unknown): StorageError {
    const code = errnoCode(error);
    return new StorageError(
      `fs storage ${operation} of ${JSON.stringify(key)} under ${root} failed: ${code ?? String(error)}`,
      { key, operation, transient: code === undefined || !PERMANENT_CODES.has(code), cause: error },
    );
  }

  async function get(key: string): Promise<StoredObject | null> {
    const path = pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw failure('get', key, error);
    }
    try {
      // The size comes from the open file: a put renaming a new file over the name meanwhile
      // cannot make it disagree with the bytes the stream reads.
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return null;
      }
      return {
        body: withStorageErrors(handle.createReadStream(), (error) => failure('get', key, error)),
        size: stats.size,
        contentType: contentTypeForKey(key),
      };
    } catch (error) {
      await handle.close();
      throw failure('get', key, error);
    }
  }

  return {
    async put(key, body, { contentType }) {
      const path = pathOf(key);
      const derived = contentTypeForKey(key);
      if (contentType.trim().toLowerCase() !== derived) {
        throw new Error(
          `fs storage derives content types from key extensions: ${JSON.stringify(key)} is ${derived}, ` +
            `not ${contentType}`,
        );
      }
      try {
        await writeAtomically(path, body);
      } catch (error) {
        throw failure('put', key, error);
      }
    },

    get,

    async getBuffer(key) {
      const object = await get(key);
      return object && readToBuffer(object.body);
    },

    async exists(key) {
      const path = pathOf(key);
      try {
        return (await stat(path)).isFile();
      } catch (error) {
        if (isMissing(error)) return false;
        throw failure('exists', key, error);
      }
    },

    async delete(key) {
      const path = pathOf(key);
      try {
        await unlink(path);
      } catch (error) {
        // A directory under the key is not an object (get and exists say none): nothing to delete.
        if (isMissing(error) || errnoCode(error) === 'EISDIR') return;
        throw failure('delete', key, error);
      }
    },

    async check() {
      try {
        await writeAtomically(join(root, PROBE_NAME), Buffer.from('ok\n'));
      } catch (error) {
        throw failure('check', PROBE_NAME, error);
      }
    },

    describe() {
      return `fs:${root}`;
    },
  };
}

/**
 * errno codes after which retrying cannot help: permissions, a read-only
 * filesystem, a file where a directory must be, a name the filesystem refuses.
 * Every other code is transient (ENOSPC, EDQUOT, EAGAIN, EMFILE, EIO, ESTALE
 * and whatever is not listed): jobs retry a bounded number of times, so a
 * wrong "transient" costs a few retries while a wrong "permanent" fails work
 * that would have succeeded.
 */
const PERMANENT_CODES = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EISDIR',
  'ENAMETOOLONG',
  'ELOOP',
  'EINVAL',
]);

/**
 * Writes `body` to a new file next to `path`, flushes it to disk and renames
 * it over `path`: rename replaces the name in one step, so a reader or a
 * crash sees the old file or the whole new one, and concurrent writers each
 * rename a complete file of their own (the last one stays).
 */
async function writeAtomically(path: string, body: Buffer): Promise<void> {
  const directory = dirname(path);
  const temp = join(directory, `.${randomUUID()}${TEMP_SUFFIX}`);
  await mkdir(directory, { recursive: true });
  try {
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(body);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    try {
      await rm(temp, { force: true });
    } catch {
      // The write's own error is what the caller needs. A temp file left behind is inert:
      // no key can name it.
    }
    throw error;
  }
  // The rename lives in the directory; flushing it makes the new name survive a power cut too.
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** No file under the key, or a file where one of its directories would be. */
function isMissing(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
