import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { interpolateAll, read, root, toMap } from './lib/compose.js';
import { SANDBOX_CREDENTIALS } from '@bursar/payments';
import { SERVICE_COMMAND, SERVICES } from '../scripts/lib/services.js';

/**
 * Static checks of the single-machine deployment (docker-compose.yml and
 * infra/docker/Dockerfile). No Docker engine is needed: the files are read the
 * way Compose and BuildKit read them, with every `${VAR:-default}` at its default.
 */

/** The processes ARCHITECTURE.md lists; the first four are routed by Caddy. */
const APP_PROCESSES = ['api', 'billing-webhook', 'notify', 'ai', 'worker'];
const HTTP_PROCESSES = ['api', 'billing-webhook', 'notify', 'ai'];
const DOCKERFILE = 'infra/docker/Dockerfile';

// ---------------------------------------------------------------- compose --

type Env = Record<string, string>;

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Env | string[] } | string;
  command?: string | string[];
  environment?: Env | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  ports?: (string | { target?: number; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  restart?: string;
  profiles?: string[];
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
}

const compose = interpolateAll(parse(read('docker-compose.yml'), { merge: true })) as {
  services: Record<string, ComposeService>;
  networks?: Record<string, { ipam?: { config?: { subnet?: string }[] } } | null>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

function service(name: string): ComposeService {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

const envOf = (name: string) => toMap(service(name).environment);
const words = (value: string | string[] | undefined) =>
  Array.isArray(value) ? value.join(' ') : (value ?? '');

function dependsOn(name: string): Record<string, string | undefined> {
  const deps = service(name).depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((dep) => [dep, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([dep, spec]) => [dep, spec?.condition]));
}

function buildOf(name: string) {
  const build = service(name).build;
  if (build === undefined) throw new Error(`${name} has no build section`);
  if (typeof build === 'string') return { context: build, dockerfile: 'Dockerfile', args: {} as Env };
  return {
    context: build.context ?? '.',
    dockerfile: build.dockerfile ?? 'Dockerfile',
    args: toMap(build.args),
  };
}

function spec(name: string) {
  const found = SERVICES.find((s) => s.name === name);
  if (!found) throw new Error(`scripts/lib/services.ts has no process "${name}"`);
  return found;
}

/** The port a process listens on inside its container, from its own port variable. */
function listenPort(name: string): number {
  return Number(envOf(name)[spec(name).portVar]);
}

/** An IPv4 address as a number, or NaN when `text` is not one. */
function ipv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) < 256)) return NaN;
  return parts.reduce((sum, part) => sum * 256 + Number(part), 0);
}

/** True when `address` lies inside `cidr` (`a.b.c.d/n`). */
function inSubnet(address: string, cidr: string): boolean {
  const [network = '', bits = ''] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(network) / size);
}

// -------------------------------------------------------------- Dockerfile --

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): { globalArgs: Env; stages: Stage[] } {
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const globalArgs: Env = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, from = '', name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      if (upper === 'ARG') {
        const [key = '', value = ''] = args.split('=');
        globalArgs[key] = value;
      }
    } else {
      stages.at(-1)!.instructions.push({ keyword: upper, args });
    }
  }
  return { globalArgs, stages };
}

const dockerfile = parseDockerfile(read(DOCKERFILE));
const finalStage = dockerfile.stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

/** `ENV A=1 B=2` (or the legacy `ENV A 1`) as a map. */
function stageEnv(stage: Stage): Env {
  const env: Env = {};
  for (const { args } of all(stage, 'ENV')) {
    if (!args.includes('=')) {
      const [key = '', ...rest] = args.split(/\s+/);
      env[key] = rest.join(' ');
      continue;
    }
    for (const [, key = '', value = ''] of args.matchAll(/([A-Za-z_]\w*)=("[^"]*"|\S+)/g)) {
      env[key] = value.replace(/^"|"$/g, '');
    }
  }
  return env;
}

// ------------------------------------------------------------------ tests --

describe('docker-compose.yml', () => {
  it('runs every process in the architecture, plus PostgreSQL, Redis, Caddy and the migration', () => {
    expect(SERVICES.map((s) => s.name).sort()).toEqual([...APP_PROCESSES].sort());
    for (const name of [...APP_PROCESSES, 'postgres', 'redis', 'caddy', 'migrate']) {
      expect(services, name).toHaveProperty([name]);
      expect(service(name).profiles, `${name} must start with a plain "docker compose up"`).toBeUndefined();
    }
  });

  it('gives every long-running service a healthcheck that runs a command', () => {
    for (const name of [...APP_PROCESSES, 'postgres', 'redis', 'caddy']) {
      const check = service(name).healthcheck;
      expect(check?.disable, name).not.toBe(true);
      const test = check?.test;
      expect(Array.isArray(test) ? test[0] : undefined, `${name} healthcheck`).toMatch(/^CMD(-SHELL)?$/);
      expect(words(test).length, name).toBeGreaterThan(10);
    }
    expect(words(service('postgres').healthcheck?.test)).toContain('pg_isready');
    expect(words(service('redis').healthcheck?.test)).toContain('redis-cli ping');
  });

  it('pins PostgreSQL 16, Redis 7 and Caddy 2', () => {
    expect(service('postgres').image).toMatch(/^postgres:16(\.\d+)*(-[\w.-]+)?$/);
    expect(service('redis').image).toMatch(/^redis:7(\.\d+)*(-[\w.-]+)?$/);
    expect(service('caddy').image).toMatch(/^caddy:2(\.\d+)*(-[\w.-]+)?$/);
  });

  it('keeps Redis jobs across restarts and never evicts them', () => {
    const command = words(service('redis').command);
    expect(command).toMatch(/^redis-server\b/);
    expect(command).toMatch(/--appendonly\s+yes\b/);
    expect(command).toMatch(/--maxmemory-policy\s+noeviction\b/);
    expect(words(service('redis').volumes as string[])).toMatch(/:\/data\b/);
  });

  it('keeps PostgreSQL data in a volume, with the credentials the apps use', () => {
    expect(words(service('postgres').volumes as string[])).toMatch(/:\/var\/lib\/postgresql\/data\b/);
    const pg = envOf('postgres');
    const url = new URL(envOf('api').DATABASE_URL ?? '');
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER ?? 'postgres');
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
  });

  it('gives notify and the worker one WhatsApp provider, never the sandbox', () => {
    const notify = envOf('notify');
    const worker = envOf('worker');
    for (const variable of [
      'WHATSAPP_PROVIDER',
      'WHATSAPP_PHONE_NUMBER_ID',
      'WHATSAPP_ACCESS_TOKEN',
      'GUPSHUP_API_KEY',
    ]) {
      expect(worker[variable], variable).toBe(notify[variable]);
    }
    expect(notify.WHATSAPP_PROVIDER).not.toBe('sandbox');
  });

  it('gives the api and the worker one documents store: the same volume, directory and pay-link secret', () => {
    for (const name of ['api', 'worker']) {
      const env = envOf(name);
      expect(env.STORAGE_DIR, name).toBe('/data/storage');
      expect(service(name).volumes, name).toContain('documents:/data/storage');
      expect(env.PAY_LINK_SECRET, name).toBe(envOf('api').PAY_LINK_SECRET);
      expect(env.PUBLIC_URL, name).toBe(envOf('api').PUBLIC_URL);
    }
    expect(Object.keys(compose.volumes ?? {})).toContain('documents');
    // A named volume starts owned like the image's directory: the process (USER node) must own it.
    expect(read(DOCKERFILE)).toMatch(
      /mkdir -p \/data\/storage && chown node:node \/data\/storage[\s\S]*\nUSER node/,
    );
  });

  describe.each(APP_PROCESSES)('%s', (name) => {
    it('is built from the one Dockerfile with its own SERVICE', () => {
      const build = buildOf(name);
      expect(build.context).toBe('.');
      expect(build.dockerfile).toBe(DOCKERFILE);
      expect(build.args.SERVICE).toBe(name);
      expect(existsSync(join(root, 'services', name, 'src', 'main.ts'))).toBe(true);
    });

    it('reaches PostgreSQL and Redis by their service names and sets its port variable', () => {
      const env = envOf(name);
      const db = new URL(env.DATABASE_URL ?? '');
      expect(db.protocol).toMatch(/^postgres(ql)?:$/);
      expect(`${db.hostname}:${db.port}${db.pathname}`).toBe('postgres:5432/bursar');
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.NODE_ENV).toBe('production');
      expect(env).toHaveProperty([spec(name).portVar]);
      expect(listenPort(name)).toBeGreaterThan(0);
      expect(listenPort(name)).toBeLessThan(65536);
    });

    it('checks /healthz on the port it listens on', () => {
      expect(words(service(name).healthcheck?.test)).toContain(
        `http://127.0.0.1:${listenPort(name)}/healthz`,
      );
    });

    it('starts after the databases are healthy and the migration succeeded, and restarts', () => {
      expect(dependsOn(name)).toMatchObject({
        postgres: 'service_healthy',
        redis: 'service_healthy',
        migrate: 'service_completed_successfully',
      });
      expect(service(name).restart).toBe('unless-stopped');
    });
  });

  it('migrates once, from the api image, with the db package cli and the apps’ database', () => {
    const migrate = service('migrate');
    expect(buildOf('migrate')).toEqual(buildOf('api'));
    const command = words(migrate.command);
    expect(command).toContain('node --import tsx');
    expect(command).toMatch(/node_modules\/@bursar\/db\/src\/cli\.ts\)?"?\s+migrate$/);
    // The cli only runs when argv[1] is its own resolved path; the pnpm link must be resolved.
    expect(command).toMatch(/realpath\s+node_modules\/@bursar\/db\/src\/cli\.ts/);
    expect(existsSync(join(root, 'packages/db/src/cli.ts'))).toBe(true);
    const api = JSON.parse(read('services/api/package.json')) as { dependencies?: Env };
    expect(api.dependencies).toHaveProperty(['@bursar/db']);
    expect(envOf('migrate').DATABASE_URL).toBe(envOf('api').DATABASE_URL);
    expect(dependsOn('migrate')).toMatchObject({ postgres: 'service_healthy' });
    expect(migrate.restart ?? 'no').toBe('no');
  });

  describe('who may set X-Forwarded-For', () => {
    const subnets = (compose.networks?.default?.ipam?.config ?? []).map((c) => c.subnet ?? '');
    const caddyNetworks = service('caddy').networks;
    const edge = Array.isArray(caddyNetworks) ? undefined : caddyNetworks?.default?.ipv4_address;

    it('gives Caddy a fixed address inside the project network’s own subnet', () => {
      expect(subnets).toHaveLength(1);
      expect(subnets[0]).toMatch(/^\d+\.\d+\.\d+\.\d+\/(1[6-9]|2\d|30)$/);
      expect(ipv4(edge ?? ''), 'caddy ipv4_address').not.toBeNaN();
      expect(inSubnet(edge!, subnets[0]!)).toBe(true);
      // A fixed address must not be the network or the gateway (.0, .1).
      expect(ipv4(edge!) % 256).toBeGreaterThan(1);
      for (const [name, other] of Object.entries(services)) {
        if (name === 'caddy' || !other.networks) continue;
        const fixed = Array.isArray(other.networks) ? undefined : other.networks.default?.ipv4_address;
        expect(fixed, `${name} takes Caddy's address`).not.toBe(edge);
      }
    });

    it.each(APP_PROCESSES)('%s trusts exactly Caddy’s address as its proxy', (name) => {
      expect(envOf(name).TRUST_PROXY).toBe(edge);
    });

    it.each(['api', 'billing-webhook'])(
      '%s takes live payment settings from the environment, never the sandbox',
      (name) => {
        const env = envOf(name);
        expect(env.PAYMENTS_PROVIDER).toBe('live');
        for (const variable of Object.keys(SANDBOX_CREDENTIALS)) {
          expect(env, variable).toHaveProperty(variable);
          expect(env[variable], variable).not.toBe(
            SANDBOX_CREDENTIALS[variable as keyof typeof SANDBOX_CREDENTIALS],
          );
        }
      },
    );

    it.each(['notify', 'ai'])('%s fetches the api’s token keys from the api service', (name) => {
      const url = new URL(envOf(name).AUTH_JWKS_URL ?? '');
      expect(url.hostname).toBe('api');
      expect(url.port).toBe(String(envOf('api').API_PORT ?? 3000));
      expect(url.pathname).toBe('/api/.well-known/jwks.json');
    });

    it.each(HTTP_PROCESSES)('%s binds every interface inside its container, so Caddy reaches it', (name) => {
      expect(envOf(name).HOST).toBe('0.0.0.0');
    });

    it('leaves the worker on loopback: its health port is for its own healthcheck only', () => {
      const env = envOf('worker');
      expect(env.HOST ?? '127.0.0.1').toBe('127.0.0.1');
      expect(env.WORKER_HOST ?? '127.0.0.1').toBe('127.0.0.1');
      expect(service('worker').ports).toBeUndefined();
    });

    it('publishes no application port, only Caddy’s (and the databases on loopback)', () => {
      for (const name of APP_PROCESSES) expect(service(name).ports, name).toBeUndefined();
      for (const name of ['postgres', 'redis']) {
        for (const port of service(name).ports ?? []) expect(String(port), name).toMatch(/^127\.0\.0\.1:/);
      }
    });
  });

  describe('caddy', () => {
    const caddyfile = read('Caddyfile');
    const caddyEnv = envOf('caddy');

    it('mounts the repository Caddyfile where the image reads it', () => {
      const volumes = (service('caddy').volumes ?? []).map((v) =>
        typeof v === 'string' ? v : `${v.source}:${v.target}`,
      );
      expect(volumes.some((v) => /^\.\/Caddyfile:\/etc\/caddy\/Caddyfile(:ro)?$/.test(v))).toBe(true);
    });

    it('sends every upstream in the Caddyfile to the port that service listens on', () => {
      const placeholders = [...caddyfile.matchAll(/\{\$([A-Z_]+_UPSTREAM)[:}]/g)].map((m) => m[1]);
      const routed = SERVICES.filter((s) => s.upstreamVar);
      expect(new Set(placeholders)).toEqual(new Set(routed.map((s) => s.upstreamVar)));
      expect(routed.map((s) => s.name).sort()).toEqual([...HTTP_PROCESSES].sort());
      for (const { name, upstreamVar } of routed) {
        expect(caddyEnv[upstreamVar!], upstreamVar).toBe(`${name}:${listenPort(name)}`);
      }
    });

    it('publishes the port the Caddyfile listens on', () => {
      expect(caddyfile).toContain('{$BURSAR_PORT:8080}');
      const sitePort = caddyEnv.BURSAR_PORT ?? '8080';
      const targets = (service('caddy').ports ?? []).map((p) =>
        typeof p === 'string' ? p.split(':').at(-1)?.split('/')[0] : String(p.target),
      );
      expect(targets).toContain(sitePort);
      expect(words(service('caddy').healthcheck?.test)).toContain('BURSAR_PORT');
    });

    it('caps bodies with a byte count, which its Content-Length check compares as a number', () => {
      expect(caddyEnv.BURSAR_MAX_BODY).toMatch(/^\d+$/);
      expect(caddyfile).toContain('{$BURSAR_MAX_BODY:5242880}');
    });

    it('starts once the four HTTP services are healthy', () => {
      const deps = dependsOn('caddy');
      for (const name of HTTP_PROCESSES) expect(deps[name], name).toBe('service_healthy');
      expect(deps).not.toHaveProperty(['worker']);
    });
  });
});

describe('infra/docker/Dockerfile', () => {
  it('is multi-stage and runs Node 20 slim', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    const image = finalStage.from.replace(
      /^\$\{?(\w+)\}?$/,
      (_, arg: string) => dockerfile.globalArgs[arg] ?? '',
    );
    expect(image).toMatch(/^node:20(\.\d+)*-(bookworm-)?slim$/);
  });

  it('installs the pnpm version package.json pins', () => {
    const pinned = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager;
    const args = Object.fromEntries(
      dockerfile.stages
        .flatMap((s) => all(s, 'ARG'))
        .map((i) => [i.args.split('=')[0], i.args.split('=')[1]]),
    );
    const install = dockerfile.stages
      .flatMap((s) => all(s, 'RUN'))
      .map((i) => /npm install -g (pnpm@\S+)/.exec(i.args)?.[1])
      .find(Boolean);
    expect(install?.replace(/\$\{?(\w+)\}?/, (_, arg: string) => args[arg] ?? '')).toBe(pinned);
  });

  it('installs from the frozen lockfile and deploys the service with `pnpm deploy --prod`', () => {
    const runs = dockerfile.stages.flatMap((s) => all(s, 'RUN').map((i) => i.args));
    expect(runs.some((r) => /pnpm (install|i)\b.*--frozen-lockfile/.test(r))).toBe(true);
    const deploy = runs.find((r) => /pnpm\b.*\bdeploy\b/.test(r));
    expect(deploy).toMatch(/--filter[ =]"?@bursar\/\$\{?SERVICE\}?"?/);
    expect(deploy).toMatch(/--prod\b/);
    expect(deploy).toMatch(/"?\/out\/\$\{?SERVICE\}?"?/);
    // pnpm 10 refuses a non-injected workspace unless told to use the older deploy.
    const injected = /inject-workspace-packages\s*=\s*true|injectWorkspacePackages:\s*true/.test(
      read('.npmrc') + read('pnpm-workspace.yaml'),
    );
    if (!injected) expect(deploy).toMatch(/--legacy\b/);
  });

  it('copies only the deployed service into the runtime stage', () => {
    const copies = all(finalStage, 'COPY');
    expect(copies.length).toBeGreaterThan(0);
    const deployStage = dockerfile.stages.find((s) => all(s, 'RUN').some((i) => /\bdeploy\b/.test(i.args)));
    for (const { args } of copies) {
      // Never from the build context, never the workspace or its node_modules.
      expect(args).toMatch(new RegExp(`--from=${deployStage?.name}\\b`));
      const [source] = args.replace(/--\S+\s+/g, '').split(/\s+/);
      expect(source).toMatch(/^\/out\/\$\{?SERVICE\}?\/?$/);
    }
    expect(
      all(finalStage, 'RUN')
        .map((i) => i.args)
        .join('\n'),
    ).not.toMatch(/\b(pnpm|npm|yarn)\b/);
    expect(all(finalStage, 'ARG').map((i) => i.args)).toContain('SERVICE');
  });

  it('runs as a non-root user, in production mode, with the command every process uses', () => {
    const users = all(finalStage, 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(stageEnv(finalStage).NODE_ENV).toBe('production');
    const cmd = all(finalStage, 'CMD').at(-1)?.args ?? '';
    expect(JSON.parse(cmd)).toEqual(SERVICE_COMMAND.split(' '));
    const instructions = finalStage.instructions;
    const lastUser = instructions.findLastIndex((i) => i.keyword === 'USER');
    expect(instructions.slice(lastUser).some((i) => i.keyword === 'RUN')).toBe(false);
  });

  it('keeps node_modules and local data out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const pattern of ['**/node_modules', '.git', '**/.data', '.env']) expect(ignored).toContain(pattern);
  });
});
