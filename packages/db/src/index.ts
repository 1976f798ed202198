export * from './migrate.js';
export * from './pool.js';
export type * from './schema.js';
