import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** A running s3rver and how to reach it; see `startS3Server`. */
export interface TestS3Server {
  /** `http://127.0.0.1:<port>`; address it path-style (`forcePathStyle`). */
  endpoint: string;
  /** A bucket that exists and is empty. */
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The storage variables that point a service's config at this server (`STORAGE_DRIVER=s3` and the S3_* ones). */
  env: Record<string, string>;
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}

/**
 * An in-process fake S3 (s3rver) on 127.0.0.1 at an ephemeral port, keeping
 * its objects in a temporary directory of its own, with one bucket created:
 * for tests that run the S3 driver without a real S3 or MinIO. s3rver only
 * knows the access key S3RVER and does not verify SigV4 signatures, so a
 * wrong secret goes unnoticed there (a wrong access key id does not).
 */
export async function startS3Server(): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'bursar-s3rver-'));
  const bucket = 'bursar-test';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    endpoint,
    bucket,
    ...credentials,
    env: {
      STORAGE_DRIVER: 's3',
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async close() {
      // A client's pooled connection, or a body nobody finished reading, would otherwise keep close() waiting.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
