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

const workerDir = fileURLToPath(new URL('../../../services/worker', import.meta.url));

/** A spawned service with the tail of what it printed, for a failing test's message. */
export type ServiceProcess = ChildProcess & { output: () => string };

/**
 * The worker as deployed: `src/main.ts` under tsx with the production catalog
 * and processors and its own outbox relay, on `databaseUrl`. The caller kills
 * it (`killHard`) or lets it be killed when its test ends.
 */
export function startWorkerProcess(env: Record<string, string> & { DATABASE_URL: string }): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: workerDir,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      WORKER_CONCURRENCY: '4',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return Object.assign(child, { output: () => output.slice(-4000) });
}
