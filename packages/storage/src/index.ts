export {
  assertStorageKey,
  MAX_KEY_LENGTH,
  StorageError,
  type ObjectStorage,
  type PutOptions,
  type StorageOperation,
  type StoredObject,
} from './storage.js';
export {
  contentTypeForKey,
  CONTENT_TYPES_BY_EXTENSION,
  createFsStorage,
  type FsStorageOptions,
} from './fs-driver.js';
export { createS3Storage, type S3StorageOptions } from './s3-driver.js';
export {
  createStorage,
  refineStorageConfig,
  storageConfigProblems,
  storageConfigSchema,
  type StorageConfig,
} from './config.js';
