import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { startProcess, type ManagedProcess } from './process.js';

/** The benchmarks' Redis and queue prefix: never the developer's or a test run's queues. */
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const QUEUE_PREFIX = '{bursar-bench}';

export interface ApiOptions {
  port: number;
  databaseUrl: string;
  /** Scratch directory of the run: the development signing key goes here unless `env` sets JWT_PRIVATE_KEY. */
  scratch: string;
  logFile: string;
  /** Extra variables, applied last. */
  env?: NodeJS.ProcessEnv;
  /** Extra node arguments, after `--import tsx` (e.g. `cpuProfileSetup().nodeArgs`). */
  nodeArgs?: string[];
}

/**
 * The api (`services/api`) as production runs it: the real telemetry preload
 * and `LOG_LEVEL=info`, so the request log is part of what is measured (its
 * lines go to `logFile`). Wait for `http://127.0.0.1:<port>/api/healthz`.
 */
export function startApi(options: ApiOptions): ManagedProcess {
  return startProcess({
    name: 'api',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      ...(options.nodeArgs ?? []),
      '--import',
      '@bursar/platform/register-telemetry',
      'src/main.ts',
    ],
    cwd: join(repoRoot, 'services/api'),
    env: {
      ...process.env,
      API_PORT: String(options.port),
      DATABASE_URL: options.databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX,
      LOG_LEVEL: 'info',
      OTEL_SERVICE_NAME: 'bursar-api',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      JWT_KEY_FILE: join(options.scratch, 'jwt', 'signing-key.pem'),
      ...options.env,
    },
    logFile: options.logFile,
  });
}

export interface CaddyOptions {
  port: number;
  /** host:port of the api. */
  apiUpstream: string;
  /** Scratch directory of the run: Caddy's XDG data and config go here, never in the developer's home. */
  scratch: string;
  logFile: string;
  /** A Caddyfile to run instead of the repository's (see `statements.bench.ts`). */
  caddyfile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Caddy with the root `Caddyfile` (or `caddyfile`), plain HTTP on `port`. */
export function startCaddy(options: CaddyOptions): ManagedProcess {
  return startProcess({
    name: 'caddy',
    command: 'caddy',
    args: ['run', '--config', options.caddyfile ?? 'Caddyfile', '--adapter', 'caddyfile'],
    cwd: repoRoot,
    env: {
      ...process.env,
      BURSAR_DOMAIN: '',
      BURSAR_PORT: String(options.port),
      API_UPSTREAM: options.apiUpstream,
      // Nothing listens behind these; the benchmarks only touch /api/* (and their own routes).
      WEBHOOK_UPSTREAM: '127.0.0.1:9',
      NOTIFY_UPSTREAM: '127.0.0.1:9',
      AI_UPSTREAM: '127.0.0.1:9',
      XDG_DATA_HOME: join(options.scratch, 'data'),
      XDG_CONFIG_HOME: join(options.scratch, 'config'),
      ...options.env,
    },
    logFile: options.logFile,
  });
}
