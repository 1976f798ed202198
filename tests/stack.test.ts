import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freshDatabase, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { SERVICES } from '../scripts/lib/services.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The whole stack, started exactly as `pnpm start` starts it (scripts/start.ts),
 * on its own ports, database and queue prefix so it never meets a developer's
 * running stack.
 */
describe('the stack behind Caddy', async () => {
  // At collection time, not in beforeAll: freshDatabase registers the afterAll that drops it.
  const { url: databaseUrl } = await freshDatabase();
  let child: ChildProcess;
  let output = '';
  let base = '';
  const ports: Record<string, string> = {};

  beforeAll(async () => {
    for (const spec of SERVICES) ports[spec.portVar] = String(await freePort());
    ports.BURSAR_PORT = String(await freePort());
    base = `http://127.0.0.1:${ports.BURSAR_PORT}`;
    child = spawn('node', ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root,
      // Its own process group, so the test can send Ctrl+C to everything as a terminal would.
      detached: true,
      env: {
        ...process.env,
        ...ports,
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl(),
        QUEUE_PREFIX: testQueuePrefix(),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 80_000;
    while (!output.includes('Bursar is up')) {
      if (child.exitCode !== null) throw new Error(`pnpm start exited ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`stack not up after 80 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 90_000);

  afterAll(() => {
    if (child?.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  });

  const families = ['/api', '/webhooks', '/notify', '/ai'];

  it.each(families)('%s/healthz and %s/readyz answer 200 through Caddy', async (prefix) => {
    for (const probe of ['healthz', 'readyz']) {
      const response = await fetch(`${base}${prefix}/${probe}`);
      expect(response.status, `${prefix}/${probe}`).toBe(200);
      expect(response.headers.get('x-request-id')).toBeTruthy();
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('routes each path family to its own service', async () => {
    const expected: Record<string, string> = {
      '/api/healthz': 'api',
      '/webhooks/healthz': 'billing-webhook',
      '/notify/healthz': 'notify',
      '/ai/healthz': 'ai',
    };
    for (const [path, service] of Object.entries(expected)) {
      expect(await (await fetch(`${base}${path}`)).json()).toMatchObject({ status: 'ok', service });
    }
    // WhatsApp's webhooks belong to notify, not to billing-webhook.
    const whatsapp = await fetch(`${base}/webhooks/whatsapp/unknown`);
    expect(whatsapp.status).toBe(404);
    expect(((await whatsapp.json()) as { detail: string }).detail).toContain('/webhooks/whatsapp/unknown');
  });

  it('answers the worker health on its private port, not through Caddy', async () => {
    const direct = await fetch(`http://127.0.0.1:${ports.WORKER_PORT}/readyz`);
    expect(direct.status).toBe(200);
    expect(await direct.json()).toMatchObject({ service: 'worker', status: 'ready' });
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });

  it('answers problem+json through Caddy for unknown paths, bad JSON and oversized bodies', async () => {
    const unknown = await fetch(`${base}/nowhere`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');

    const malformed = await fetch(`${base}/api/anything`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'malformed_json' });

    const big = await fetch(`${base}/api/anything`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toContain('application/problem+json');
    expect(big.headers.get('x-request-id')).toBeTruthy();
  });

  it('stops every process cleanly on Ctrl+C', async () => {
    const exited = once(child, 'exit');
    process.kill(-child.pid!, 'SIGINT');
    const [code] = await exited;
    expect(code, output.slice(-3000)).toBe(0);
    await expect(fetch(`${base}/api/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${ports.API_PORT}/healthz`)).rejects.toThrow();
  }, 30_000);
});
