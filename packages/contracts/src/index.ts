export * from './common.js';
export * from './health.js';
export * from './problem.js';
export * from './jobs.js';
export * from './auth.js';
export * from './billing.js';
