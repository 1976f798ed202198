import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createFsStorage } from './fs-driver.js';
import { createS3Storage } from './s3-driver.js';
import type { ObjectStorage } from './storage.js';

/**
 * Storage settings, for a service's config schema (`...storageConfigSchema.shape`
 * in its `extend`). The S3 variables are optional here because the `fs` driver
 * needs none; a service using storage also calls `storageConfigProblems` so a
 * missing one is named at start-up rather than at the first upload.
 */
export const storageConfigSchema = z.object({
  /** `fs` (development default): files under STORAGE_DIR. `s3`: an S3 or S3-compatible bucket. */
  STORAGE_DRIVER: z.enum(['fs', 's3']).default('fs'),
  /**
   * Root directory of the `fs` driver (relative paths are from the process's
   * working directory). The default is the repository's git-ignored
   * `.data/storage`, the same for every service however it is started, so the
   * worker writes where the api reads.
   */
  STORAGE_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../../../.data/storage', import.meta.url))),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 of a-z, 0-9, . and -)')
    .optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  /** An S3-compatible server such as MinIO (`http://127.0.0.1:9000`); unset means AWS S3 itself. */
  S3_ENDPOINT: z.url().optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** `true` puts the bucket in the URL path instead of the host name, as MinIO needs. */
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .default(false),
});
export type StorageConfig = z.infer<typeof storageConfigSchema>;

/** Variables the `s3` driver cannot do without. */
const S3_REQUIRED = ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const;

/**
 * Every variable the chosen driver needs but `config` lacks, each by name
 * (the shape of the platform's `ConfigError` issues, so a service can throw
 * them as one). Empty for the `fs` driver.
 */
export function storageConfigProblems(config: StorageConfig): { variable: string; message: string }[] {
  if (config.STORAGE_DRIVER !== 's3') return [];
  return S3_REQUIRED.filter((variable) => config[variable] === undefined).map((variable) => ({
    variable,
    message: 'required when STORAGE_DRIVER is s3',
  }));
}

/**
 * The same check as a refinement, for a service's whole schema
 * (`configSchema.superRefine(refineStorageConfig)`): `loadConfig` then names
 * each missing S3 variable as it names any other bad variable.
 */
export function refineStorageConfig(config: StorageConfig, ctx: z.RefinementCtx): void {
  for (const { variable, message } of storageConfigProblems(config)) {
    ctx.addIssue({ code: 'custom', path: [variable], message });
  }
}

/**
 * The storage `config` names. Throws a plain Error naming every missing
 * variable when `storageConfigProblems` finds any (a service should have
 * refused to start before this).
 */
export function createStorage(config: StorageConfig): ObjectStorage {
  const problems = storageConfigProblems(config);
  if (problems.length) {
    throw new Error(
      `storage configuration incomplete: ${problems.map((p) => `${p.variable} ${p.message}`).join('; ')}`,
    );
  }
  if (config.STORAGE_DRIVER === 'fs') return createFsStorage({ root: config.STORAGE_DIR });
  return createS3Storage({
    bucket: config.S3_BUCKET!,
    region: config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    accessKeyId: config.S3_ACCESS_KEY_ID!,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY!,
  });
}
