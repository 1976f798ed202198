import { fileURLToPath } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  assertStorageKey,
  createFsStorage,
  createS3Storage,
  createStorage,
  refineStorageConfig,
  StorageError,
  storageConfigProblems,
  storageConfigSchema,
  type ObjectStorage,
} from './index.js';
import { startS3Server, type TestS3Server } from './testing.js';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bursar-storage-test-'));
  temps.push(dir);
  return dir;
}

let s3: TestS3Server;
beforeAll(async () => {
  s3 = await startS3Server();
});
/** Fake servers the tests started, closed when the file ends. */
const closers: (() => void)[] = [];
afterAll(async () => {
  for (const close of closers) close();
  await s3.close();
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

function s3Storage(overrides: Partial<Parameters<typeof createS3Storage>[0]> = {}): ObjectStorage {
  return createS3Storage({
    bucket: s3.bucket,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    ...overrides,
  });
}

/** Every byte value, then random bytes: a text round trip anywhere would change some. */
function binaryBody(length: number): Buffer {
  const body = randomBytes(length);
  for (let i = 0; i < 256 && i < length; i++) body[i] = i;
  return body;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function storageError(promise: Promise<unknown>): Promise<StorageError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A port that was free a moment ago and has nothing listening on it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const INVALID_KEYS = [
  '',
  '/invoices/a.pdf',
  'invoices/',
  'invoices//a.pdf',
  '../x',
  'invoices/../../x',
  './a.pdf',
  'invoices/./a.pdf',
  '.',
  '..',
  'a b.pdf',
  'a\\b.pdf',
  'façade.pdf',
  'a?b',
  'a~b',
  'a\0b',
  'x'.repeat(513),
];

const drivers: { name: string; create: () => Promise<ObjectStorage> }[] = [
  { name: 'fs', create: async () => createFsStorage({ root: join(await tempDir(), 'root') }) },
  { name: 's3', create: async () => s3Storage() },
];

describe.each(drivers)('$name driver (contract)', ({ create }) => {
  let storage: ObjectStorage;
  beforeAll(async () => {
    storage = await create();
  });

  it('gives back the bytes, size and content type it was given', async () => {
    const body = binaryBody(70_001);
    await storage.put('invoices/school-1/inv-1.pdf', body, { contentType: 'application/pdf' });

    const object = await storage.get('invoices/school-1/inv-1.pdf');
    expect(object).not.toBeNull();
    expect(object!.size).toBe(body.length);
    expect(object!.contentType).toBe('application/pdf');
    const chunks: Buffer[] = [];
    for await (const chunk of object!.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);

    expect((await storage.getBuffer('invoices/school-1/inv-1.pdf'))!.equals(body)).toBe(true);
    expect(await storage.exists('invoices/school-1/inv-1.pdf')).toBe(true);

    await storage.put('logos/school-1.png', binaryBody(300), { contentType: 'image/png' });
    expect((await storage.get('logos/school-1.png'))?.contentType).toBe('image/png');
    await storage.put('logos/school-2.jpg', binaryBody(300), { contentType: 'image/jpeg' });
    expect((await storage.get('logos/school-2.jpg'))?.contentType).toBe('image/jpeg');
  });

  it('streams a 5 MB object in chunks, every byte intact', async () => {
    const body = binaryBody(5 * 1024 * 1024);
    await storage.put('receipts/big.pdf', body, { contentType: 'application/pdf' });

    const object = await storage.get('receipts/big.pdf');
    expect(object!.body).toBeInstanceOf(Readable);
    expect(object!.size).toBe(body.length);
    const hash = createHash('sha256');
    let chunks = 0;
    let largest = 0;
    let bytes = 0;
    for await (const chunk of object!.body) {
      const buffer = chunk as Buffer;
      hash.update(buffer);
      chunks += 1;
      bytes += buffer.length;
      largest = Math.max(largest, buffer.length);
    }
    expect(bytes).toBe(body.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    // Arrived piece by piece, never as one 5 MB buffer.
    expect(chunks).toBeGreaterThan(10);
    expect(largest).toBeLessThan(body.length / 4);
  });

  it('replaces an object on a second put', async () => {
    await storage.put('invoices/school-1/inv-2.pdf', Buffer.from('first version, longer'), {
      contentType: 'application/pdf',
    });
    await storage.put('invoices/school-1/inv-2.pdf', Buffer.from('second'), {
      contentType: 'application/pdf',
    });
    const object = await storage.get('invoices/school-1/inv-2.pdf');
    expect(object!.size).toBe(6);
    expect((await storage.getBuffer('invoices/school-1/inv-2.pdf'))!.toString()).toBe('second');
  });

  it('answers null and false for a key with no object', async () => {
    expect(await storage.get('invoices/school-1/never.pdf')).toBeNull();
    expect(await storage.getBuffer('invoices/school-1/never.pdf')).toBeNull();
    expect(await storage.exists('invoices/school-1/never.pdf')).toBe(false);
    expect(await storage.get('nowhere/at/all.pdf')).toBeNull();
  });

  it('deletes an object, and deleting a missing one is fine', async () => {
    await storage.put('invoices/school-1/inv-3.pdf', Buffer.from('%PDF-1.7'), {
      contentType: 'application/pdf',
    });
    await storage.delete('invoices/school-1/inv-3.pdf');
    expect(await storage.exists('invoices/school-1/inv-3.pdf')).toBe(false);
    expect(await storage.get('invoices/school-1/inv-3.pdf')).toBeNull();

    await expect(storage.delete('invoices/school-1/inv-3.pdf')).resolves.toBeUndefined();
    await expect(storage.delete('never/was.pdf')).resolves.toBeUndefined();
  });

  it('refuses malformed keys in every method with a plain Error', async () => {
    for (const key of INVALID_KEYS) {
      const attempts = [
        () => storage.put(key, Buffer.from('x'), { contentType: 'application/octet-stream' }),
        () => storage.get(key),
        () => storage.getBuffer(key),
        () => storage.exists(key),
        () => storage.delete(key),
      ];
      for (const attempt of attempts) {
        const error = await rejection(attempt());
        expect(error, key).toBeInstanceOf(Error);
        expect(error, key).not.toBeInstanceOf(StorageError);
        expect((error as Error).message, key).toMatch(/invalid storage key/);
      }
    }
  });

  it('passes check() and names where it stores without credentials', async () => {
    await expect(storage.check()).resolves.toBeUndefined();
    expect(storage.describe()).not.toContain(s3.secretAccessKey);
    expect(storage.describe()).toMatch(/^(fs:\/|s3:\/\/bursar-test )/);
  });
});

describe('assertStorageKey', () => {
  it('accepts keys built from ids, up to 512 characters', () => {
    for (const key of [
      'a',
      'invoices/7f0c2a4e-1b2c-4d5e-8f90-123456789abc/INV-2024_0001.pdf',
      '.hidden-but-fine',
      '..double-dot-prefix',
      `${'a'.repeat(200)}/${'b'.repeat(200)}/${'c'.repeat(110)}`,
    ]) {
      expect(() => assertStorageKey(key), key).not.toThrow();
    }
    expect(`${'a'.repeat(200)}/${'b'.repeat(200)}/${'c'.repeat(110)}`).toHaveLength(512);
  });

  it('refuses everything else', () => {
    for (const key of INVALID_KEYS) expect(() => assertStorageKey(key), key).toThrow(/invalid storage key/);
    expect(() => assertStorageKey(undefined as unknown as string)).toThrow(/invalid storage key/);
  });
});

describe('fs driver', () => {
  async function walk(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
      .sort();
  }

  it('creates its root on first write and leaves no temporary files, even under concurrent puts of one key', async () => {
    const root = join(await tempDir(), 'not', 'yet', 'there');
    const storage = createFsStorage({ root });
    const bodies = Array.from({ length: 20 }, (_, i) => Buffer.alloc(64 * 1024 + i, i));
    await Promise.all(
      bodies.map((body) => storage.put('invoices/same.pdf', body, { contentType: 'application/pdf' })),
    );
    await storage.put('invoices/other.pdf', Buffer.from('other'), { contentType: 'application/pdf' });

    expect(await walk(root)).toEqual(['invoices/other.pdf', 'invoices/same.pdf']);
    // Whichever put renamed last, its file is whole: no mix of two writers, no truncation.
    const stored = await readFile(join(root, 'invoices/same.pdf'));
    expect(bodies.some((body) => body.equals(stored))).toBe(true);

    await storage.check();
    expect(await walk(root)).toEqual(['.storage-check~', 'invoices/other.pdf', 'invoices/same.pdf']);
  });

  it('lets readers see the old file or the whole new one while a put is under way, never part of one', async () => {
    const root = await tempDir();
    const storage = createFsStorage({ root });
    const before = Buffer.alloc(1024 * 1024, 1);
    const after = Buffer.alloc(32 * 1024 * 1024, 2);
    await storage.put('receipts/r.pdf', before, { contentType: 'application/pdf' });

    let settled = false;
    const writing = storage
      .put('receipts/r.pdf', after, { contentType: 'application/pdf' })
      .finally(() => (settled = true));
    const seen = new Set<string>();
    while (!settled) {
      const now = await readFile(join(root, 'receipts/r.pdf'));
      const whole = now.equals(before)
        ? 'before'
        : now.equals(after)
          ? 'after'
          : `partial ${now.length} bytes`;
      seen.add(whole);
    }
    await writing;
    expect([...seen].filter((state) => state.startsWith('partial'))).toEqual([]);
    expect((await readFile(join(root, 'receipts/r.pdf'))).equals(after)).toBe(true);
  });

  it('never reaches outside its root', async () => {
    const parent = await tempDir();
    const storage = createFsStorage({ root: join(parent, 'root') });
    await writeFile(join(parent, 'x'), 'outside');
    await expect(
      storage.put('../x', Buffer.from('escaped'), { contentType: 'application/octet-stream' }),
    ).rejects.toThrow(/invalid storage key/);
    await expect(storage.get('../x')).rejects.toThrow(/invalid storage key/);
    await expect(storage.delete('root/../../x')).rejects.toThrow(/invalid storage key/);
    expect(await readFile(join(parent, 'x'), 'utf8')).toBe('outside');
  });

  it('derives content types from extensions and refuses one the extension would not give back', async () => {
    const storage = createFsStorage({ root: await tempDir() });
    await expect(storage.put('logo.png', Buffer.from('x'), { contentType: 'image/jpeg' })).rejects.toThrow(
      /"logo.png" is image\/png, not image\/jpeg/,
    );
    expect(await storage.exists('logo.png')).toBe(false);
    await storage.put('notes', Buffer.from('x'), { contentType: 'application/octet-stream' });
    expect((await storage.get('notes'))?.contentType).toBe('application/octet-stream');
    await storage.put('LOGO.JPEG', Buffer.from('x'), { contentType: 'image/jpeg' });
    expect((await storage.get('LOGO.JPEG'))?.contentType).toBe('image/jpeg');
  });

  it('treats a directory under a key as no object', async () => {
    const storage = createFsStorage({ root: await tempDir() });
    await storage.put('invoices/a.pdf', Buffer.from('x'), { contentType: 'application/pdf' });
    expect(await storage.get('invoices')).toBeNull();
    expect(await storage.exists('invoices')).toBe(false);
    await expect(storage.delete('invoices')).resolves.toBeUndefined();
    expect(await storage.exists('invoices/a.pdf')).toBe(true);
  });

  it('fails check() and put with a permanent StorageError when the root cannot be a directory', async () => {
    const parent = await tempDir();
    await writeFile(join(parent, 'file'), 'a file where the root would go');
    const storage = createFsStorage({ root: join(parent, 'file', 'root') });

    const checked = await storageError(storage.check());
    expect(checked.transient).toBe(false);
    expect(checked.operation).toBe('check');
    expect(checked.message).toMatch(/ENOTDIR|EEXIST/);

    const put = await storageError(
      storage.put('a.pdf', Buffer.from('x'), { contentType: 'application/pdf' }),
    );
    expect(put).toMatchObject({ transient: false, key: 'a.pdf', operation: 'put' });
  });
});

describe('s3 driver', () => {
  it('reports a missing bucket as a permanent StorageError, from get as much as from put', async () => {
    const storage = s3Storage({ bucket: 'no-such-bucket' });
    const put = await storageError(
      storage.put('a.pdf', Buffer.from('x'), { contentType: 'application/pdf' }),
    );
    expect(put).toMatchObject({ transient: false, key: 'a.pdf', operation: 'put' });
    expect(put.message).toContain('NoSuchBucket');

    // Not null: a wrong bucket is a misconfiguration, not a missing object.
    const get = await storageError(storage.get('a.pdf'));
    expect(get).toMatchObject({ transient: false, operation: 'get' });
    const checked = await storageError(storage.check());
    expect(checked.transient).toBe(false);
  });

  it('reports an unknown access key as a permanent StorageError', async () => {
    const storage = s3Storage({ accessKeyId: 'NOT-A-KEY' });
    const error = await storageError(
      storage.put('a.pdf', Buffer.from('x'), { contentType: 'application/pdf' }),
    );
    expect(error.transient).toBe(false);
    expect(error.message).toContain('InvalidAccessKeyId');
  });

  it('reports an endpoint nobody listens on as a transient StorageError', async () => {
    const storage = s3Storage({ endpoint: `http://127.0.0.1:${await deadPort()}` });
    for (const attempt of [
      () => storage.put('a.pdf', Buffer.from('x'), { contentType: 'application/pdf' }),
      () => storage.get('a.pdf'),
      () => storage.exists('a.pdf'),
      () => storage.delete('a.pdf'),
      () => storage.check(),
    ]) {
      const error = await storageError(attempt());
      expect(error.transient).toBe(true);
      expect(error.message).toContain('ECONNREFUSED');
    }
  });

  /** An S3 stand-in that answers every request with `answer`, counting requests. */
  async function fakeS3(answer: (res: ServerResponse) => void) {
    let requests = 0;
    const server = createHttpServer((req, res) => {
      requests += 1;
      req.resume();
      req.on('end', () => answer(res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as { port: number };
    return { storage: s3Storage({ endpoint: `http://127.0.0.1:${port}` }), requests: () => requests };
  }

  function s3ErrorAnswer(status: number, code: string) {
    return (res: ServerResponse) => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} here</Message></Error>`,
      );
    };
  }

  it('retries throttling (three attempts in all) and reports it as transient', async () => {
    const { storage, requests } = await fakeS3(s3ErrorAnswer(503, 'SlowDown'));
    const error = await storageError(
      storage.put('a.pdf', Buffer.from('x'), { contentType: 'application/pdf' }),
    );
    expect(error.transient).toBe(true);
    expect(error.message).toContain('SlowDown');
    expect(requests()).toBe(3);
  });

  it('reports a 500 as transient and access denied as permanent, without retrying the latter', async () => {
    const failing = await fakeS3(s3ErrorAnswer(500, 'InternalError'));
    expect((await storageError(failing.storage.get('a.pdf'))).transient).toBe(true);

    const denied = await fakeS3(s3ErrorAnswer(403, 'AccessDenied'));
    const error = await storageError(
      denied.storage.put('a.pdf', Buffer.from('x'), { contentType: 'application/pdf' }),
    );
    expect(error).toMatchObject({ transient: false, operation: 'put', key: 'a.pdf' });
    expect(error.message).toContain('AccessDenied');
    expect(denied.requests()).toBe(1);
  });

  it('turns a connection lost half-way through a body into a transient StorageError on the stream', async () => {
    const { storage } = await fakeS3((res) => {
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 7), () => res.destroy());
    });
    const object = await storage.get('a.pdf');
    expect(object!.size).toBe(100_000);
    const error = await rejection(readAll(object!.body));
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ transient: true, operation: 'get', key: 'a.pdf' });
  });

  it('keeps the content type the object was put with, whatever the key', async () => {
    const storage = s3Storage();
    await storage.put('exports/report', Buffer.from('a,b\n'), { contentType: 'text/csv' });
    expect(await storage.get('exports/report')).toMatchObject({ size: 4, contentType: 'text/csv' });
  });

  it('describes the bucket and endpoint without credentials', () => {
    const storage = s3Storage({
      endpoint: 'http://user:hunter2@127.0.0.1:9000/',
      secretAccessKey: 'hunter3',
    });
    expect(storage.describe()).toBe(
      's3://bursar-test (endpoint http://127.0.0.1:9000, region us-east-1, path-style)',
    );
  });
});

describe('storage config', () => {
  it("defaults to the fs driver under the repository's .data/storage, whatever the working directory", () => {
    const config = storageConfigSchema.parse({});
    const repositoryData = fileURLToPath(new URL('../../../.data/storage', import.meta.url));
    expect(config).toEqual({
      STORAGE_DRIVER: 'fs',
      STORAGE_DIR: repositoryData,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: false,
    });
    expect(storageConfigProblems(config)).toEqual([]);
    expect(createStorage(config).describe()).toBe(`fs:${repositoryData}`);
    // A relative directory is still the working directory's.
    expect(createStorage(storageConfigSchema.parse({ STORAGE_DIR: 'files' })).describe()).toBe(
      `fs:${join(process.cwd(), 'files')}`,
    );
  });

  it('names every S3 variable the s3 driver lacks', () => {
    const config = storageConfigSchema.parse({ STORAGE_DRIVER: 's3' });
    expect(storageConfigProblems(config).map((problem) => problem.variable)).toEqual([
      'S3_BUCKET',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
    ]);
    expect(() => createStorage(config)).toThrow(/S3_BUCKET.*S3_ACCESS_KEY_ID.*S3_SECRET_ACCESS_KEY/);

    const partial = storageConfigSchema.parse({ STORAGE_DRIVER: 's3', S3_BUCKET: 'bursar-files' });
    expect(storageConfigProblems(partial).map((problem) => problem.variable)).toEqual([
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
    ]);
  });

  it('merges into a service schema, whose parse then names the missing S3 variables', () => {
    const serviceSchema = z
      .object({ API_PORT: z.coerce.number().default(3000) })
      .extend(storageConfigSchema.shape)
      .superRefine(refineStorageConfig);
    const result = serviceSchema.safeParse({ STORAGE_DRIVER: 's3', S3_ACCESS_KEY_ID: 'AKIA' });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.'))).toEqual([
      'S3_BUCKET',
      'S3_SECRET_ACCESS_KEY',
    ]);
    expect(serviceSchema.parse({}).API_PORT).toBe(3000);
  });

  it('reads S3_FORCE_PATH_STYLE from "true"/"false" and refuses other words', () => {
    expect(storageConfigSchema.parse({ S3_FORCE_PATH_STYLE: 'true' }).S3_FORCE_PATH_STYLE).toBe(true);
    expect(storageConfigSchema.parse({ S3_FORCE_PATH_STYLE: 'false' }).S3_FORCE_PATH_STYLE).toBe(false);
    const result = storageConfigSchema.safeParse({ S3_FORCE_PATH_STYLE: 'yes', S3_ENDPOINT: 'not a url' });
    expect(result.error!.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'S3_ENDPOINT',
      'S3_FORCE_PATH_STYLE',
    ]);
  });

  it('builds an s3 storage from the variables startS3Server gives', async () => {
    const storage = createStorage(storageConfigSchema.parse(s3.env));
    expect(storage.describe()).toBe(
      `s3://bursar-test (endpoint ${s3.endpoint}, region us-east-1, path-style)`,
    );
    await storage.put('config/round-trip.pdf', Buffer.from('%PDF'), { contentType: 'application/pdf' });
    expect((await storage.getBuffer('config/round-trip.pdf'))!.toString()).toBe('%PDF');
  });
});
