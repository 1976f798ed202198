export * from './types.js';
export * from './config.js';
export * from './razorpay/webhook.js';
export * from './razorpay/events.js';
export * from './razorpay/links.js';
export * from './stripe/webhook.js';
export * from './stripe/events.js';
export * from './stripe/links.js';
