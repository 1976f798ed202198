/**
 * The processes that make up Bursar on one machine, and how each is started.
 * `pnpm start`, the stack test and the benchmarks all read this one list.
 */
export interface ProcessSpec {
  name: string;
  /** Directory under the repo root the process runs in. */
  cwd: string;
  /** Env var that sets its port, and the default. */
  portVar: string;
  defaultPort: number;
  /** Path prefix Caddy routes to it (`null` for the worker, which Caddy does not route). */
  prefix: string | null;
  /** Caddyfile placeholder naming its upstream. */
  upstreamVar?: string;
  color: string;
}

export const SERVICES: ProcessSpec[] = [
  {
    name: 'api',
    cwd: 'services/api',
    portVar: 'API_PORT',
    defaultPort: 3000,
    prefix: '/api',
    upstreamVar: 'API_UPSTREAM',
    color: 'cyan',
  },
  {
    name: 'billing-webhook',
    cwd: 'services/billing-webhook',
    portVar: 'WEBHOOK_PORT',
    defaultPort: 3001,
    prefix: '/webhooks',
    upstreamVar: 'WEBHOOK_UPSTREAM',
    color: 'magenta',
  },
  {
    name: 'notify',
    cwd: 'services/notify',
    portVar: 'NOTIFY_PORT',
    defaultPort: 3002,
    prefix: '/notify',
    upstreamVar: 'NOTIFY_UPSTREAM',
    color: 'green',
  },
  {
    name: 'ai',
    cwd: 'services/ai',
    portVar: 'AI_PORT',
    defaultPort: 3003,
    prefix: '/ai',
    upstreamVar: 'AI_UPSTREAM',
    color: 'yellow',
  },
  {
    name: 'worker',
    cwd: 'services/worker',
    portVar: 'WORKER_PORT',
    defaultPort: 3004,
    prefix: null,
    color: 'blue',
  },
];

/** The command line that starts a service: telemetry preloaded before the entry point. */
export const SERVICE_COMMAND = 'node --import tsx --import @bursar/platform/register-telemetry src/main.ts';

/** Every port and upstream variable, filled with defaults where `env` does not set them. */
export function portEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of SERVICES) {
    const port = env[spec.portVar] ?? String(spec.defaultPort);
    out[spec.portVar] = port;
    if (spec.upstreamVar) out[spec.upstreamVar] = env[spec.upstreamVar] ?? `127.0.0.1:${port}`;
  }
  out.BURSAR_PORT = env.BURSAR_PORT ?? '8080';
  return out;
}

/**
 * The URLs the start banner lists: only what answers today (a test fetches
 * every one). Add a line when a feature with a page lands, not before.
 */
export function bannerLinks(ports: Record<string, string>): { label: string; url: string; note?: string }[] {
  const base = `http://127.0.0.1:${ports.BURSAR_PORT}`;
  return [
    { label: 'API docs', url: `${base}/api/docs`, note: `OpenAPI: ${base}/api/openapi.json` },
    // Redirects to /admin/login until signed in; the stack test's fetch follows it to the form (200).
    { label: 'Job dashboard', url: `${base}/admin/queues`, note: 'sign in as a platform admin' },
    ...SERVICES.map((spec) =>
      spec.prefix
        ? { label: spec.name, url: `${base}${spec.prefix}/healthz` }
        : {
            label: spec.name,
            url: `http://127.0.0.1:${ports[spec.portVar]}/healthz`,
            note: 'private, not behind Caddy',
          },
    ),
  ];
}
