export * from './aging.js';
export * from './collections.js';
export * from './forecast.js';
export * from './registry.js';
export { percent, reportSchool, reportSchoolAndVersion, type Narrowing, type ReportSchool } from './scope.js';
export * from './requests.js';
export * from './analytics.js';
