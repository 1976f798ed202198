import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { SERVICE_COMMAND, SERVICES } from '../scripts/lib/services.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** `node --import tsx --import @bursar/platform/register-telemetry`, as the services are started. */
const [NODE, ...PRELOADS] = SERVICE_COMMAND.split(' ').slice(0, -1) as [string, ...string[]];

type LogLine = Record<string, unknown> & { msg?: string };

interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once the process has exited and its output is fully read. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON log line matching `test`; rejects if the process ends first. */
  waitForLog: (test: (line: LogLine) => boolean) => Promise<LogLine>;
}

const running = new Set<ChildProcess>();

afterAll(() => {
  for (const child of running)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts `entry` under node with the services' preloads, in `cwd`, with `env` over the test's own env. */
function start(cwd: string, entry: string, env: Record<string, string>): Spawned {
  const child = spawn(NODE, [...PRELOADS, entry], {
    cwd: join(root, cwd),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const waiters: { test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const lines: LogLine[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    const complete = (stdout + chunk.toString()).split('\n').length - 1;
    const before = stdout.split('\n').length - 1;
    stdout += chunk.toString();
    for (const text of stdout.split('\n').slice(before, complete)) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    closed,
    waitForLog: (test) => {
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ test, resolve });
        closed.then(
          ({ code, signal }) =>
            reject(new Error(`process ended (${code ?? signal}) first:\n${stdout}\n${stderr}`)),
          reject,
        );
      });
    },
  };
}

/** Opens a bare TCP connection: `connected`, or the error code it failed with. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

// Called while the file is collected: freshDatabase registers an afterAll that drops the database,
// and Vitest drops hooks registered from inside another hook (the database would leak).
const { url: databaseUrl } = await freshDatabase();

describe('service processes', () => {
  const goodEnv: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: testQueuePrefix(),
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
  };

  /** Per service: variables set to values its config must reject. */
  const badEnv: Record<string, Record<string, string>> = {
    api: { API_PORT: 'not-a-port', DATABASE_URL: 'mysql://x' },
    'billing-webhook': { WEBHOOK_PORT: '70000', REDIS_URL: 'http://127.0.0.1:6379' },
    notify: { NOTIFY_PORT: '-1', QUEUE_PREFIX: 'bursar' },
    ai: { AI_PORT: '30.5', LOG_LEVEL: 'loud', SHUTDOWN_TIMEOUT_MS: 'soon' },
    worker: { WORKER_QUEUES: 'payments,nope', WORKER_CONCURRENCY: '0' },
  };

  it('covers every service', () => {
    expect(Object.keys(badEnv).sort()).toEqual(SERVICES.map((spec) => spec.name).sort());
  });

  it.each(SERVICES.map((spec) => [spec.name, spec.cwd] as const))(
    '%s exits 1 naming every bad variable',
    async (name, cwd) => {
      const bad = badEnv[name]!;
      const service = start(cwd, 'src/main.ts', { ...goodEnv, ...bad });
      const { code } = await service.closed;

      expect(code, service.stderr()).toBe(1);
      const stderr = service.stderr();
      expect(stderr).toMatch(new RegExp(`^${name}: invalid configuration`));
      for (const variable of Object.keys(bad)) expect(stderr).toMatch(new RegExp(`^  ${variable}: `, 'm'));
      // Only the bad variables are named, and nothing was started.
      expect(stderr.match(/^ {2}[A-Z_]+: /gm)).toHaveLength(Object.keys(bad).length);
      expect(service.stdout()).not.toContain('listening');
    },
  );

  it('exits 0 when Ctrl+C arrives twice (from the terminal and from the process runner)', async () => {
    const service = start('tests/fixtures', 'slow-service.ts', { ...goodEnv, SHUTDOWN_TIMEOUT_MS: '10000' });
    try {
      const listening = await service.waitForLog((line) => line.msg === 'slow-service listening');
      // An in-flight request holds the shutdown open, so the second Ctrl+C lands during it.
      const response = fetch(`${String(listening.url)}/slow`).then(
        (res) => res.status,
        (error: unknown) => String(error),
      );
      await service.waitForLog((line) => line.msg === 'slow request started');
      service.child.kill('SIGINT');
      await service.waitForLog((line) => line.msg === 'shutting down');
      service.child.kill('SIGINT');
      expect(await response).toBe(200);
      const { code, signal } = await service.closed;
      expect({ code, signal }, service.stdout() + service.stderr()).toEqual({ code: 0, signal: null });
      expect(service.stdout().match(/"msg":"shutting down"/g)).toHaveLength(1);
    } finally {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    }
  });

  it('finishes an in-flight request after SIGTERM, refuses new connections, and exits 0', async () => {
    const service = start('tests/fixtures', 'slow-service.ts', {
      ...goodEnv,
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    try {
      const listening = await service.waitForLog((line) => line.msg === 'slow-service listening');
      const url = String(listening.url);
      const port = Number(new URL(url).port);

      // A failed fetch becomes a value so it shows in the assertion, not as an unhandled rejection.
      const response = fetch(`${url}/slow`).then(
        async (res) => ({ status: res.status, body: (await res.json()) as unknown }),
        (error: unknown) => ({ error: String(error) }),
      );
      await service.waitForLog((line) => line.msg === 'slow request started');
      service.child.kill('SIGTERM');
      await service.waitForLog((line) => line.msg === 'listening socket closed');

      const afterSigterm = await tryConnect(port);
      const answered = await response;
      expect(afterSigterm).toBe('ECONNREFUSED');
      expect(answered).toEqual({ status: 200, body: { status: 'done', waitedMs: 1_500 } });

      // The deadline (10 s) exits 1, so 0 means every hook finished within it.
      const { code, signal } = await service.closed;
      expect({ code, signal }, service.stdout() + service.stderr()).toEqual({ code: 0, signal: null });
      expect(service.stdout()).toContain('shutdown complete');
      expect(service.stdout()).not.toContain('shutdown deadline passed');
    } finally {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    }
  }, 30_000);
});
