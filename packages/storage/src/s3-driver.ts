import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  assertStorageKey,
  readToBuffer,
  StorageError,
  withStorageErrors,
  type ObjectStorage,
  type StorageOperation,
} from './storage.js';

/** What `createS3Storage` needs. */
export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** An S3-compatible server (MinIO, s3rver); unset means AWS itself. */
  endpoint?: string | undefined;
  /** Bucket in the path (`host/bucket/key`) rather than the host name; MinIO and s3rver need it. */
  forcePathStyle?: boolean | undefined;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Outside the key alphabet (`~`), so no caller's object is ever overwritten by the readiness probe. */
const PROBE_KEY = '.storage-check~';

/**
 * The SDK retries transient failures itself (with backoff) up to this many
 * attempts in all; a job's own retries come on top, so a few are enough.
 */
const MAX_ATTEMPTS = 3;

/**
 * Error names S3 gives throttling and timeouts, which answer 4xx (or come
 * without a status) yet succeed when tried again later.
 */
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Errors without an HTTP answer that retrying cannot fix: the client could not produce credentials. */
const PERMANENT_CLIENT_NAMES = new Set(['CredentialsProviderError']);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Whether an SDK failure may succeed when tried again: throttling, timeouts,
 * 5xx and failures with no answer at all (connection refused or reset, DNS)
 * are; other 4xx answers (access denied, no such bucket, bad credentials,
 * wrong region) are not.
 */
export function isTransientS3Error(error: unknown): boolean {
  const { name = '', $metadata } = (error ?? {}) as SdkError;
  const status = $metadata?.httpStatusCode;
  if (TRANSIENT_NAMES.has(name)) return true;
  if (status === undefined) return !PERMANENT_CLIENT_NAMES.has(name);
  return status >= 500 || status === 408 || status === 429;
}

/**
 * Objects in one S3 (or S3-compatible) bucket, through `@aws-sdk/client-s3`.
 * The content type is the object's own `Content-Type`. Credentials come from
 * the options only, never from the SDK's search of the environment, so what
 * config.ts validated is what is used.
 */
export function createS3Storage(options: S3StorageOptions): ObjectStorage {
  const { bucket } = options;
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: {
      // An endpoint that does not answer fails within seconds (readiness waits 2 s), and a
      // request that hangs before its answer ends instead of holding a job forever. A body
      // being streamed is not limited: it flows at the pace of whoever reads it.
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
      throwOnRequestTimeout: true,
    },
  });
  const where = describeS3(options);

  function failure(operation: StorageOperation, key: string, error: unknown): StorageError {
    const { name, code, message, $metadata } = (error ?? {}) as SdkError;
    const status = $metadata?.httpStatusCode;
    const what = [name && name !== 'Error' ? name : code, status && `HTTP ${status}`, message]
      .filter(Boolean)
      .join(', ');
    return new StorageError(`s3 storage ${operation} of ${JSON.stringify(key)} in ${where} failed: ${what}`, {
      key,
      operation,
      transient: isTransientS3Error(error),
      cause: error,
    });
  }

  async function put(operation: StorageOperation, key: string, body: Buffer, contentType: string) {
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentLength: body.length,
        }),
      );
    } catch (error) {
      throw failure(operation, key, error);
    }
  }

  async function get(key: string) {
    assertStorageKey(key);
    let response;
    try {
      response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      // A missing bucket is also a 404, but a misconfiguration rather than a missing object.
      if (isNotFound(error) && (error as SdkError).name !== 'NoSuchBucket') return null;
      throw failure('get', key, error);
    }
    if (!(response.Body instanceof Readable) || response.ContentLength === undefined) {
      throw failure('get', key, new Error('the answer has no body stream or no Content-Length'));
    }
    return {
      body: withStorageErrors(response.Body, (error) => failure('get', key, error)),
      size: response.ContentLength,
      contentType: response.ContentType ?? 'application/octet-stream',
    };
  }

  return {
    async put(key, body, { contentType }) {
      assertStorageKey(key);
      await put('put', key, body, contentType);
    },

    get,

    async getBuffer(key) {
      const object = await get(key);
      return object && readToBuffer(object.body);
    },

    /**
     * HEAD answers a missing bucket with a bare 404 too, so a wrong bucket
     * reads as "no object" here; `check()` and every other method report it.
     */
    async exists(key) {
      assertStorageKey(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw failure('exists', key, error);
      }
    },

    async delete(key) {
      assertStorageKey(key);
      try {
        // S3 answers 204 for a key with no object, so a missing one needs no special case.
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        throw failure('delete', key, error);
      }
    },

    async check() {
      // A write, not a HEAD of the bucket: read-only credentials must fail readiness too.
      // The probe is overwritten each time rather than deleted, so checks need no delete permission.
      await put('check', PROBE_KEY, Buffer.from('ok\n'), 'text/plain');
    },

    describe() {
      return where;
    },
  };
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = (error ?? {}) as SdkError;
  return name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404;
}

/** `s3://bucket` with the endpoint (without any user:password in it) and region, for logs. */
function describeS3(options: S3StorageOptions): string {
  const details = [`region ${options.region}`];
  if (options.endpoint) {
    const endpoint = new URL(options.endpoint);
    endpoint.username = '';
    endpoint.password = '';
    details.unshift(`endpoint ${endpoint.origin}${endpoint.pathname.replace(/\/$/, '')}`);
  }
  if (options.forcePathStyle) details.push('path-style');
  return `s3://${options.bucket} (${details.join(', ')})`;
}
