/**
 * Test and development helpers: the WhatsApp sandbox (a fake Meta and
 * Gupshup over real HTTP) and a webhook receiver. Never imported by
 * production code.
 */
export * from './sandbox-server.js';
export * from './sandbox-types.js';
export * from './webhook-receiver.js';
