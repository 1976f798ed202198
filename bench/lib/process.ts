import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartOptions {
  /** Shown in errors and progress lines. */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  /** The child's whole environment (pass `{ ...process.env, ... }` to inherit). */
  env: NodeJS.ProcessEnv;
  /** stdout and stderr go here, truncated at start; never to the terminal. */
  logFile: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  hasExited(): boolean;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ManagedProcess>();

function spawnWithLog(options: StartOptions, fd: number): ChildProcess {
  try {
    return spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
}

/**
 * Spawns a child in its own process group (so a wrapper such as a shell or
 * `tsx` cannot leave grandchildren behind) and tracks it until it exits, so
 * `stopAll` and the signal handlers can always reach it.
 */
export function startProcess(options: StartOptions): ManagedProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'w');
  const child = spawnWithLog(options, fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not spawn ${options.command}`);

  let done = false;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(managed);
      resolve({ code, signal });
    });
    child.once('error', () => {
      done = true;
      live.delete(managed);
      resolve({ code: null, signal: null });
    });
  });

  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };

  const managed: ManagedProcess = {
    name: options.name,
    pid,
    logFile: options.logFile,
    exited,
    hasExited: () => done,
    async stop(graceMs = 5_000) {
      if (done) return;
      signalGroup('SIGTERM');
      const first = await Promise.race([exited, sleep(graceMs).then(() => 'timeout' as const)]);
      if (first !== 'timeout') return;
      signalGroup('SIGKILL');
      await Promise.race([exited, sleep(2_000)]);
    },
  };
  live.add(managed);
  return managed;
}

/** Stops every process this module started that is still running, newest first. */
export async function stopAll(): Promise<void> {
  const running = [...live].reverse();
  for (const proc of running) await proc.stop();
}

let handlersInstalled = false;

/**
 * On Ctrl-C or SIGTERM, stop every child before exiting; on any other exit,
 * SIGKILL whatever is left (an `exit` handler cannot wait).
 */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping ${live.size} child process(es)…`);
      void stopAll().finally(() => process.exit(code));
    });
  }
  process.once('exit', () => {
    for (const proc of live) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** The last `lines` lines of a log file, for error messages. */
export function tailLog(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  /** Fail at once (with its log tail) if this process exits while we wait. */
  process?: ManagedProcess;
}

/** Polls `url` until it answers 200, the process dies, or the timeout passes. */
export async function waitForUrl(url: string, options: WaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (options.process?.hasExited()) {
      const { code, signal } = await options.process.exited;
      throw new Error(
        `${options.process.name} exited (code ${code}, signal ${signal}) before ${url} answered; ` +
          `last lines of ${options.process.logFile}:\n${tailLog(options.process.logFile)}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  const logHint = options.process
    ? `; last lines of ${options.process.logFile}:\n${tailLog(options.process.logFile)}`
    : '';
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})${logHint}`);
}
