/**
 * `pnpm start`: everything Bursar needs on one machine, in one terminal.
 * Checks PostgreSQL and Redis (starting project-local ones under .data/ when
 * nothing answers), migrates, seeds the demo school, then runs the five
 * processes and Caddy with prefixed, coloured logs. Ctrl+C stops it all.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { concurrently } from 'concurrently';
import { migrate } from '../packages/db/src/cli.js';
import { SANDBOX_CREDENTIALS } from '../packages/payments/src/config.js';
import {
  caddyInstallPlan,
  machineFacts,
  onPath,
  postgresAnswers,
  redisAnswers,
  runInstallSteps,
  startEmbeddedPostgres,
  startLocalRedis,
} from './lib/dependencies.js';
import { bannerLinks, portEnv, SERVICE_COMMAND, SERVICES } from './lib/services.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(root, '.data');
const env = process.env;
const stoppers: (() => Promise<void>)[] = [];
/** Set by the first Ctrl+C (or SIGTERM); from then on the script only winds down. */
let stopping = false;
/** True once concurrently runs the processes: it forwards signals and they stop themselves. */
let processesRunning = false;

function say(message: string): void {
  process.stdout.write(`\x1b[1m[bursar]\x1b[0m ${message}\n`);
}

function fail(message: string): never {
  process.stderr.write(`\n\x1b[31m[bursar] ${message}\x1b[0m\n\n`);
  process.exit(1);
}

async function stopDependencies(): Promise<void> {
  for (const stop of stoppers.splice(0).reverse())
    await stop().catch((error: unknown) => say(`while stopping: ${String(error)}`));
}

// Ctrl+C is a normal way to end `pnpm start`: it exits 0 (pnpm reports any
// other code, or death by signal, as "ELIFECYCLE Command failed"). The
// handlers stay for the whole run, so a second Ctrl+C does not kill the
// script before it has stopped the local databases.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    if (processesRunning) return;
    say('stopping');
    void stopDependencies().then(() => process.exit(0));
  });
}

/**
 * Installs Caddy where that can be done without asking anyone anything (apt as
 * root or with passwordless sudo, Homebrew on macOS); otherwise stops with how
 * to install it by hand.
 */
function ensureCaddy(): void {
  if (onPath('caddy')) return;
  const manual =
    'Caddy is not installed. Install it with `sudo apt-get install -y caddy` (Debian/Ubuntu) or `brew install caddy` (macOS).';
  const plan = caddyInstallPlan(machineFacts());
  if (plan.kind === 'manual') fail(`${manual}\n(It was not installed automatically: ${plan.reason}.)`);
  say(`Caddy is not installed; installing it: ${plan.how}`);
  if (!runInstallSteps(plan.steps) || !onPath('caddy'))
    fail(`installing Caddy failed (see above). ${manual}`);
  say(`Caddy installed (${spawnSync('caddy', ['version'], { encoding: 'utf8' }).stdout.trim()})`);
  if (plan.how.startsWith('apt-get')) {
    say(
      'note: the Debian package also runs a system Caddy on port 80; `sudo systemctl disable --now caddy` stops it',
    );
  }
}

async function ensureDependencies(): Promise<{ databaseUrl: string; redisUrl: string }> {
  let databaseUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/bursar';
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  ensureCaddy();
  if (!(await postgresAnswers(databaseUrl))) {
    say(`no PostgreSQL at ${new URL(databaseUrl).host}; starting a project-local one under .data/postgres`);
    try {
      const local = await startEmbeddedPostgres(dataDir, databaseUrl);
      stoppers.push(local.stop);
      databaseUrl = local.url;
    } catch (error) {
      fail(
        `PostgreSQL is not reachable at ${new URL(databaseUrl).host} and a local one could not be started (${String(error)}).\n` +
          'Start one with `docker compose up -d postgres redis`, or install PostgreSQL, or set DATABASE_URL.',
      );
    }
  }
  if (!(await redisAnswers(redisUrl))) {
    if (!onPath('redis-server')) {
      await stopDependencies();
      fail(
        `Redis is not reachable at ${new URL(redisUrl).host} and redis-server is not installed.\n` +
          'Install it (`sudo apt-get install -y redis-server` or `brew install redis`), or run `docker compose up -d postgres redis`, or set REDIS_URL.',
      );
    }
    say(`no Redis at ${new URL(redisUrl).host}; starting redis-server with its data under .data/redis`);
    stoppers.push((await startLocalRedis(dataDir, redisUrl)).stop);
  }
  return { databaseUrl, redisUrl };
}

async function seed(childEnv: NodeJS.ProcessEnv): Promise<void> {
  // Not spawnSync: a Ctrl+C while seeding must reach this script's handler.
  const child = spawn('node', ['--import', 'tsx', 'src/seed/cli.ts'], {
    cwd: join(root, 'services/api'),
    env: childEnv,
    stdio: 'inherit',
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error('seeding the demo data failed');
}

/** One aligned banner line. */
function line(label: string, value: string): string {
  return `  ${label.padEnd(17)}${value}`;
}

/**
 * The payment sandbox's banner lines: where its pay pages are and the webhook
 * secrets it signs with (the development defaults unless set), so a webhook
 * can also be sent by hand. Nothing when the providers are live.
 */
function paymentLines(childEnv: NodeJS.ProcessEnv): string[] {
  if ((childEnv.PAYMENTS_PROVIDER ?? 'sandbox') !== 'sandbox') return [];
  const secret = (variable: 'RAZORPAY_WEBHOOK_SECRETS' | 'STRIPE_WEBHOOK_SECRETS') =>
    childEnv[variable] ? `(${variable})` : SANDBOX_CREDENTIALS[variable];
  return [
    line(
      'Payment sandbox',
      `${childEnv.PUBLIC_URL}/webhooks/sandbox  (pay pages of the links POST /api/invoices/:id/payment-link makes)`,
    ),
    line(
      'Webhook secrets',
      `Razorpay ${secret('RAZORPAY_WEBHOOK_SECRETS')}, Stripe ${secret('STRIPE_WEBHOOK_SECRETS')}  (development only)`,
    ),
  ];
}

/** The WhatsApp sandbox's banner line: where to see what was sent and play a guardian's reply. */
function whatsappLines(childEnv: NodeJS.ProcessEnv): string[] {
  if ((childEnv.WHATSAPP_PROVIDER ?? 'sandbox') !== 'sandbox') return [];
  return [
    line(
      'WhatsApp sandbox',
      `http://127.0.0.1:${childEnv.WHATSAPP_SANDBOX_PORT ?? 3090}/  (messages the worker sent; reply STOP as a guardian)`,
    ),
  ];
}

async function waitHealthy(base: string, paths: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = paths;
  while (pending.length && Date.now() < deadline) {
    const results = await Promise.all(
      pending.map(async (path) => {
        try {
          const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(1_000) });
          return response.ok ? null : path;
        } catch {
          return path;
        }
      }),
    );
    pending = results.filter((path): path is string => path !== null);
    if (pending.length) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return pending;
}

async function main(): Promise<void> {
  const { databaseUrl, redisUrl } = await ensureDependencies();
  const ports = portEnv(env);
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    ...ports,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    // The sandbox's pay links and its webhooks go through this Caddy, on whatever port it has.
    PUBLIC_URL: env.PUBLIC_URL ?? `http://127.0.0.1:${ports.BURSAR_PORT}`,
    // notify and ai check tokens against the api's keys, wherever its port is.
    AUTH_JWKS_URL: env.AUTH_JWKS_URL ?? `http://127.0.0.1:${ports.API_PORT}/api/.well-known/jwks.json`,
    // The WhatsApp sandbox on another port than 3090: the services must send there.
    ...(env.WHATSAPP_SANDBOX_PORT && !env.WHATSAPP_API_BASE
      ? { WHATSAPP_API_BASE: `http://127.0.0.1:${env.WHATSAPP_SANDBOX_PORT}` }
      : {}),
    // A person reads this terminal, but the services' stdout is concurrently's
    // pipe: ask for readable logs unless the user chose, or runs production.
    ...(env.LOG_FORMAT || env.NODE_ENV === 'production' ? {} : { LOG_FORMAT: 'pretty' }),
  };

  say('migrating');
  await migrate(databaseUrl);
  if (stopping) return;
  say('seeding demo data');
  await seed(childEnv);
  if (stopping) return;

  // `exec`: concurrently runs each command through `sh -c`, and the shell
  // (not the process, which stops cleanly and exits 0) would otherwise be the
  // one a signal ends, reported as "exited with code SIGINT".
  processesRunning = true;
  const { result, commands } = concurrently(
    [
      ...SERVICES.map((spec) => ({
        name: spec.name,
        command: `exec ${SERVICE_COMMAND}`,
        cwd: join(root, spec.cwd),
        env: { ...childEnv, OTEL_SERVICE_NAME: `bursar-${spec.name}` },
        prefixColor: spec.color,
      })),
      ...((childEnv.WHATSAPP_PROVIDER ?? 'sandbox') === 'sandbox'
        ? [
            {
              name: 'whatsapp',
              command: 'exec node --import tsx scripts/whatsapp-sandbox.ts',
              cwd: root,
              env: childEnv,
              prefixColor: 'white',
            },
          ]
        : []),
      {
        name: 'caddy',
        // Caddy force-quits (exit 2) on a second SIGINT while it drains. A
        // terminal's Ctrl+C reaches the whole foreground group and concurrently
        // relays it as well, so Caddy runs in its own session (`setsid` execs in
        // place: same pid, so concurrently still tracks it) and hears only the
        // relay, which is sent to it once (below).
        command: `exec ${onPath('setsid') ? 'setsid ' : ''}caddy run --config Caddyfile --adapter caddyfile`,
        cwd: root,
        env: childEnv,
        prefixColor: 'gray',
      },
    ],
    { prefix: 'name', padPrefix: true, killOthersOn: ['failure'], handleInput: false, killTimeout: 15_000 },
  );

  for (const command of commands.filter((each) => each.name === 'caddy')) {
    const kill = command.kill.bind(command);
    let signalled = false;
    command.kill = (signal) => {
      if (signalled) return;
      signalled = true;
      kill(signal);
    };
  }

  const base = `http://127.0.0.1:${ports.BURSAR_PORT}`;
  const healthPaths = SERVICES.flatMap((spec) =>
    spec.prefix ? [`${spec.prefix}/healthz`, `${spec.prefix}/readyz`] : [],
  );
  void waitHealthy(base, healthPaths, 90_000).then((unhealthy) => {
    if (stopping) return;
    if (unhealthy.length) {
      say(`\x1b[31mnot healthy after 90 s: ${unhealthy.join(', ')}\x1b[0m`);
      return;
    }
    const adminEmail = env.BURSAR_ADMIN_EMAIL ?? 'admin@bursar.local';
    say(
      [
        '\x1b[32mBursar is up\x1b[0m',
        ...bannerLinks(ports).map(({ label, url, note }) =>
          line(label, `${url}${note ? `  (${note})` : ''}`),
        ),
        line(
          'Platform admin',
          `${adminEmail} / ${env.BURSAR_ADMIN_PASSWORD ? '(BURSAR_ADMIN_PASSWORD)' : 'change_me'}`,
        ),
        line(
          'Demo school',
          `principal@greenwood.example, bursar@greenwood.example, teacher@greenwood.example / ${env.BURSAR_DEMO_PASSWORD ? '(BURSAR_DEMO_PASSWORD)' : 'demo_pass'}`,
        ),
        ...paymentLines(childEnv),
        ...whatsappLines(childEnv),
        '  Ctrl+C stops everything.',
      ].join('\n'),
    );
  });

  let exitCode = 0;
  try {
    await result;
  } catch (events) {
    const failed = (
      events as { command: { name: string }; exitCode: number | string; killed: boolean }[]
    ).filter((event) => event.exitCode !== 0 && !event.killed);
    if (failed.length) {
      exitCode = 1;
      say(
        `\x1b[31mstopped because ${failed.map((e) => `${e.command.name} exited ${e.exitCode}`).join(', ')}\x1b[0m`,
      );
    }
  }
  await stopDependencies();
  say('stopped');
  process.exit(exitCode);
}

main().catch(async (error: unknown) => {
  await stopDependencies();
  // A step cut short by Ctrl+C (the seed, a migration) is not a failure.
  if (stopping) {
    say('stopped');
    process.exit(0);
  }
  fail(error instanceof Error ? error.message : String(error));
});
