import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@bursar/test-support';
import { SERVICES } from '../scripts/lib/services.js';

/**
 * The repository's Caddyfile, run by the real Caddy in front of tiny local
 * upstreams (one per routed service), so what is checked is what Caddy does
 * with this file and not with the services' own answers.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const CADDYFILE = readFileSync(join(root, 'Caddyfile'), 'utf8');
/** Small, so oversized bodies are cheap to send. */
const MAX_BODY = 4096;
const FAMILIES = ['/api', '/webhooks', '/notify', '/ai'];

interface Upstream {
  name: string;
  server: Server;
  /** Every request this upstream received: its path and the X-Forwarded-For Caddy sent. */
  seen: { path: string; forwardedFor: string | undefined }[];
}

/** An upstream that answers every request with its name, and secrets at /metrics (Caddy must never get there). */
async function startUpstream(name: string): Promise<Upstream & { port: number }> {
  const seen: Upstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', forwardedFor: req.headers['x-forwarded-for'] as string | undefined });
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ service: name, path: req.url }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('upstream has no port');
  return { name, server, seen, port: address.port };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP(S) request with exactly the framing asked for: `chunks` are written
 * one by one (chunked), `body` with its Content-Length. fetch cannot send a
 * raw path such as `/x%5C` untouched, nor choose the framing.
 */
function send(
  url: string,
  options: { method?: string; body?: Buffer; chunks?: Buffer[]; tls?: boolean } = {},
): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (options.body) headers['content-length'] = options.body.length;
    if (options.chunks) headers['transfer-encoding'] = 'chunked';
    // The TLS site is `localhost`: Caddy routes by Host, so name it.
    if (options.tls) headers.host = 'localhost';
    const common = {
      host: '127.0.0.1',
      port: target.port,
      method: options.method ?? 'GET',
      // The path exactly as written, escapes included.
      path: url.slice(url.indexOf('/', url.indexOf('//') + 2)),
      headers,
    };
    const req = options.tls
      ? // Caddy's own local CA signed the certificate; the test checks headers, not trust.
        httpsRequest({ ...common, servername: 'localhost', rejectUnauthorized: false })
      : httpRequest(common);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // Caddy may answer 413 and close before the whole body is written.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    if (options.chunks) for (const chunk of options.chunks) req.write(chunk);
    req.end(options.body);
  });
}

/** Every key of a flat JSON object in the order written, duplicates kept (JSON.parse would drop them). */
function keysAsWritten(text: string): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"(\s*:)?/g)]
    .filter((match) => match[2] !== undefined)
    .map((match) => JSON.parse(`"${match[1]}"`) as string);
}

/** Asserts `answer` is a well-formed problem+json body with each key exactly once. */
function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers['content-type']).toContain('application/problem+json');
  const keys = keysAsWritten(answer.body);
  expect(new Set(keys).size, answer.body).toBe(keys.length);
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  expect(problem).toMatchObject({ status, code });
  expect(Object.keys(problem).sort()).toEqual(['code', 'detail', 'instance', 'status', 'title', 'type']);
}

interface Caddy {
  child: ChildProcess;
  output: () => string;
}

/** Runs `caddy run` on `config`, with its storage in `home`, until a TCP connect to `port` succeeds. */
async function startCaddy(
  config: string,
  env: Record<string, string>,
  port: number,
  home: string,
): Promise<Caddy> {
  const file = join(home, `Caddyfile-${port}`);
  writeFileSync(file, config);
  const child = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`caddy exited ${child.exitCode}:\n${output}`);
    // "server running" is logged once the listener is up (plain and TLS alike).
    if (output.includes('"serving initial configuration"')) return { child, output: () => output };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopCaddy(caddy: Caddy | undefined): Promise<void> {
  if (!caddy || caddy.child.exitCode !== null) return;
  const exited = once(caddy.child, 'exit');
  caddy.child.kill('SIGTERM');
  await exited;
}

describe('the edge (repository Caddyfile, real Caddy)', () => {
  const home = mkdtempSync(join(tmpdir(), 'bursar-edge-'));
  const upstreams = new Map<string, Upstream>();
  let plain: Caddy | undefined;
  let tls: Caddy | undefined;
  let base = '';
  let tlsBase = '';

  beforeAll(async () => {
    const env: Record<string, string> = { BURSAR_MAX_BODY: String(MAX_BODY), BURSAR_DOMAIN: '' };
    for (const spec of SERVICES.filter((s) => s.upstreamVar)) {
      const upstream = await startUpstream(spec.name);
      upstreams.set(spec.name, upstream);
      env[spec.upstreamVar!] = `127.0.0.1:${upstream.port}`;
    }
    const port = await freePort();
    env.BURSAR_PORT = String(port);
    base = `http://127.0.0.1:${port}`;
    plain = await startCaddy(CADDYFILE, env, port, home);

    // The same site over HTTPS, as production runs it with BURSAR_DOMAIN set:
    // only the global options differ (Caddy's local CA instead of ACME, never
    // installed into the machine's trust store, and no port 80).
    const [tlsPort, redirectPort] = [await freePort(), await freePort()];
    const globals = `{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\thttp_port ${redirectPort}\n\thttps_port ${tlsPort}\n}\n`;
    const site = CADDYFILE.replace(/^\{\n[\s\S]*?^\}\n/m, '');
    expect(site).not.toBe(CADDYFILE);
    tls = await startCaddy(
      globals + site,
      { ...env, BURSAR_DOMAIN: 'localhost', BURSAR_PORT: String(tlsPort) },
      tlsPort,
      home,
    );
    tlsBase = `https://127.0.0.1:${tlsPort}`;
    // Caddy issues the local certificate in the background: wait for a handshake.
    for (;;) {
      const ready = await send(`${tlsBase}/healthz`, { tls: true }).then(
        () => true,
        () => false,
      );
      if (ready) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 60_000);

  afterAll(async () => {
    await stopCaddy(plain);
    await stopCaddy(tls);
    for (const upstream of upstreams.values()) upstream.server.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('routes each path family to its own upstream', async () => {
    const expected: Record<string, string> = {
      '/api/x': 'api',
      '/admin/queues': 'api',
      '/webhooks/razorpay': 'billing-webhook',
      '/webhooks/whatsapp/meta': 'notify',
      '/notify/x': 'notify',
      '/ai/x': 'ai',
    };
    for (const [path, service] of Object.entries(expected)) {
      const answer = await send(`${base}${path}`);
      expect(answer.status, path).toBe(200);
      expect(JSON.parse(answer.body), path).toEqual({ service, path });
    }
  });

  it('tells the upstream the real client address, never one the client claims', async () => {
    const api = upstreams.get('api')!;
    const answer = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/api/who`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toBe(200);
    expect(api.seen.at(-1)).toEqual({ path: '/api/who', forwardedFor: '127.0.0.1' });
  });

  it.each([
    ['with Content-Length', { body: Buffer.alloc(MAX_BODY + 1, 'x') }],
    ['chunked', { chunks: [Buffer.alloc(MAX_BODY, 'x'), Buffer.alloc(MAX_BODY, 'x')] }],
  ])('refuses a body over the cap sent %s with 413 problem+json', async (_, framing) => {
    const before = upstreams.get('api')!.seen.length;
    const answer = await send(`${base}/api/big`, { method: 'POST', ...framing });
    expectProblem(answer, 413, 'payload_too_large');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    if ('body' in framing) expect(upstreams.get('api')!.seen.length, 'never proxied').toBe(before);
  });

  it('passes a body of exactly the cap', async () => {
    const answer = await send(`${base}/api/fits`, { method: 'POST', body: Buffer.alloc(MAX_BODY, 'x') });
    expect(answer.status).toBe(200);
  });

  it.each(['/x%22,%22detail%22:%22Call%20support', '/x%5C', '/x%22%7D', '/api%2F..%2F%22', '/%E2%80%A8%22'])(
    'answers %s with one well-formed problem+json',
    async (path) => {
      expectProblem(await send(`${base}${path}`), 404, 'not_found');
    },
  );

  it('keeps the request out of its own error bodies when an upstream is down too', async () => {
    // Stops one upstream for a moment and asks it for a crafted path.
    const ai = upstreams.get('ai')!;
    const port = (ai.server.address() as { port: number }).port;
    ai.server.close();
    ai.server.closeAllConnections();
    await once(ai.server, 'close');
    try {
      const answer = await send(`${base}/ai/x%22,%22code%22:%22ok%5C`);
      expectProblem(answer, 503, 'service_unavailable');
      expect(answer.headers['content-security-policy']).toBeTruthy();
    } finally {
      ai.server.listen(port, '127.0.0.1');
      await once(ai.server, 'listening');
    }
  });

  it.each([
    '/metrics',
    ...FAMILIES.map((f) => `${f}/metrics`),
    '/API/Metrics/',
    '/api/%6detrics',
    '/webhooks/whatsapp/metrics',
  ])('refuses %s with 404 problem+json and never proxies it', async (path) => {
    const seen = () =>
      [...upstreams.values()].reduce((n, u) => n + u.seen.filter((r) => /metrics/i.test(r.path)).length, 0);
    const before = seen();
    expectProblem(await send(`${base}${path}`), 404, 'not_found');
    expect(seen()).toBe(before);
  });

  it('allows no inline script and sends no HSTS over plain HTTP, on proxied and own answers', async () => {
    for (const path of ['/api/x', '/nowhere', '/api/metrics']) {
      const answer = await send(`${base}${path}`);
      const csp = String(answer.headers['content-security-policy']);
      const scriptSrc = /(?:^|;)\s*script-src ([^;]*)/.exec(csp)?.[1];
      expect(scriptSrc, csp).toBeDefined();
      expect(scriptSrc).not.toContain("'unsafe-inline'");
      expect(scriptSrc).not.toContain("'unsafe-eval'");
      expect(answer.headers['strict-transport-security'], path).toBeUndefined();
      expect(answer.headers.server, path).toBeUndefined();
    }
  });

  it('sends HSTS over HTTPS, on proxied and own answers', async () => {
    for (const path of ['/api/x', '/nowhere', '/api/metrics']) {
      const answer = await send(`${tlsBase}${path}`, { tls: true });
      expect(answer.headers['strict-transport-security'], path).toBe('max-age=31536000; includeSubDomains');
      expect(answer.headers['x-content-type-options'], path).toBe('nosniff');
    }
  });
});
