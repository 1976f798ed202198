import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/**
 * `env` without libfaketime: under `pnpm test:future` it is preloaded into
 * every child, and real servers (Redis, PostgreSQL, Caddy) must keep real time.
 */
export function withoutFakedClock(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { LD_PRELOAD: _preload, FAKETIME: _faketime, ...rest } = env;
  return rest;
}

/** Kills a child outright (SIGKILL: no shutdown hooks; its open transactions die with their connections). */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` every 25 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 100_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const servicesDir = fileURLToPath(new URL('../../../services/', import.meta.url));

/** A spawned service with what it printed (the tail by default, for a failing test's message). */
export type ServiceProcess = ChildProcess & { output: (whole?: boolean) => string };

/**
 * A service as deployed: its `src/main.ts` under tsx, JSON logs, no trace
 * export unless `env` sets one; with `telemetry`, OpenTelemetry registered
 * before anything loads, as `pnpm start` and the image run it. The caller
 * kills it (`killHard`) or lets it be killed when its test ends.
 */
export function startServiceProcess(
  service: string,
  env: Record<string, string>,
  { telemetry = false }: { telemetry?: boolean } = {},
): ServiceProcess {
  const args = [
    '--import',
    'tsx',
    ...(telemetry ? ['--import', '@bursar/platform/register-telemetry'] : []),
    'src/main.ts',
  ];
  const child = spawn(process.execPath, args, {
    cwd: `${servicesDir}${service}`,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: (whole = false) => (whole ? output : output.slice(-4000)) });
}

/**
 * The worker as deployed (see {@link startServiceProcess}) with the production
 * catalog and processors and its own outbox relay, on `databaseUrl`.
 */
export function startWorkerProcess(env: Record<string, string> & { DATABASE_URL: string }): ServiceProcess {
  return startServiceProcess('worker', { WORKER_CONCURRENCY: '4', ...env });
}
