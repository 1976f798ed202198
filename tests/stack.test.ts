import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freshDatabase, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { SERVICES } from '../scripts/lib/services.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The whole stack, started by `pnpm start` itself (pnpm's verdict on Ctrl+C is
 * part of what is tested), on its own ports, database and queue prefix so it
 * never meets a developer's running stack.
 */
/** A span as the services export it over OTLP/HTTP (JSON), with its service. */
interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
type OtlpAttribute = { key: string; value: OtlpValue };

/**
 * A stand-in for the OpenTelemetry Collector: takes the services' OTLP/HTTP
 * JSON exports (what `OTEL_EXPORTER_OTLP_ENDPOINT` points them at) and keeps
 * every span.
 */
async function startSpanCollector(): Promise<{ url: string; spans: ExportedSpan[]; server: Server }> {
  const spans: ExportedSpan[] = [];
  const attributesOf = (list: OtlpAttribute[] = []) =>
    Object.fromEntries(
      list.map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.boolValue]),
    );
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans?: {
            resource?: { attributes?: OtlpAttribute[] };
            scopeSpans?: {
              spans?: (Omit<ExportedSpan, 'service' | 'attributes'> & { attributes?: OtlpAttribute[] })[];
            }[];
          }[];
        };
        for (const resource of body.resourceSpans ?? []) {
          const service = String(attributesOf(resource.resource?.attributes)['service.name'] ?? '');
          for (const scope of resource.scopeSpans ?? []) {
            for (const span of scope.spans ?? [])
              spans.push({ ...span, service, attributes: attributesOf(span.attributes) });
          }
        }
      } catch {
        // Not JSON: not what the services send; nothing to keep.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, server };
}

describe('the stack behind Caddy', async () => {
  // At collection time, not in beforeAll: freshDatabase registers the afterAll that drops it.
  const { url: databaseUrl } = await freshDatabase();
  let child: ChildProcess;
  let output = '';
  let base = '';
  const ports: Record<string, string> = {};
  let collector: Awaited<ReturnType<typeof startSpanCollector>>;

  beforeAll(async () => {
    collector = await startSpanCollector();
    for (const spec of SERVICES) ports[spec.portVar] = String(await freePort());
    ports.WHATSAPP_SANDBOX_PORT = String(await freePort());
    ports.BURSAR_PORT = String(await freePort());
    base = `http://127.0.0.1:${ports.BURSAR_PORT}`;
    // Whatever the developer's shell says, the start script picks the log format.
    const { LOG_FORMAT: _ignored, ...inherited } = process.env;
    child = spawn('pnpm', ['start'], {
      cwd: root,
      // Its own process group, so the test can send Ctrl+C to everything as a terminal would.
      detached: true,
      env: {
        ...inherited,
        ...ports,
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl(),
        QUEUE_PREFIX: testQueuePrefix(),
        NODE_ENV: 'development',
        LOG_LEVEL: 'info',
        // Traces exported as with the compose observability profile, to this test's collector.
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_BSP_SCHEDULE_DELAY: '200',
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
    collector?.server.close();
  });

  const families = ['/api', '/webhooks', '/notify', '/ai'];
  /** The output without colours (concurrently and pino-pretty colour it when FORCE_COLOR is set). */
  // eslint-disable-next-line no-control-regex
  const plain = () => output.replace(/\x1b\[[0-9;]*m/g, '');

  it.each(families)('%s/healthz and /readyz answer 200 through Caddy', async (prefix) => {
    for (const probe of ['healthz', 'readyz']) {
      const response = await fetch(`${base}${prefix}/${probe}`);
      expect(response.status, `${prefix}/${probe}`).toBe(200);
      expect(response.headers.get('x-request-id')).toBeTruthy();
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('lists in its banner only URLs that answer', async () => {
    const banner = plain().slice(plain().indexOf('Bursar is up'));
    const urls = [...banner.matchAll(/https?:\/\/[^\s,)]+/g)].map((match) => match[0]);
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) expect((await fetch(url)).status, url).toBe(200);
    // The job dashboard is listed now that it exists (a fetch lands on its login page).
    expect(banner).toContain('/admin/queues');
  });

  it('serves Swagger UI under a CSP without inline scripts: every script is a same-origin file', async () => {
    const page = await fetch(`${base}/api/docs`);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(/script-src ([^;]*)/.exec(csp)?.[1]).toBe("'self'");
    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes = '', body = ''] of scripts) {
      expect(body.trim(), 'inline script').toBe('');
      const src = /src="([^"]+)"/.exec(attributes)?.[1];
      expect(src).toMatch(/^\/api\/docs\//);
      const script = await fetch(`${base}${src}`);
      expect(script.status, src).toBe(200);
      expect(script.headers.get('content-type')).toContain('javascript');
    }
  });

  it('logs for a person: pretty lines, not JSON', () => {
    for (const spec of SERVICES) {
      expect(plain()).toMatch(new RegExp(`INFO \\(${spec.name}\\): ${spec.name} listening`));
    }
    expect(plain()).not.toMatch(/^\[api\s*\] \{"level"/m);
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
    for (const prefix of ['', ...families]) {
      const metrics = await fetch(`${base}${prefix}/metrics`);
      expect(metrics.status, `${prefix}/metrics`).toBe(404);
      expect(metrics.headers.get('content-type')).toContain('application/problem+json');
      expect(await metrics.text()).not.toContain('# TYPE');
    }
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

  const jsonAt = async (path: string, init: RequestInit & { token?: string } = {}) => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  /** The seeded demo school's bursar (an accountant). */
  const demoToken = async () => {
    const login = await jsonAt('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: 'bursar@greenwood.example', password: 'demo_pass' }),
    });
    expect(login.status).toBe(200);
    return login.body.accessToken as string;
  };

  it.each(['razorpay', 'stripe'])(
    'takes a %s payment end to end through Caddy: pay link, sandbox page, Pay, signed webhooks, ledger',
    async (provider) => {
      const json = async (path: string, init: RequestInit & { token?: string } = {}) => {
        const response = await fetch(`${base}${path}`, {
          ...init,
          headers: {
            'content-type': 'application/json',
            ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          },
        });
        return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
      };
      // The seeded demo school's bursar, and one of the Term 1 invoices the seed left open.
      const login = await json('/api/auth/login', {
        method: 'POST',
        body: JSON.stringify({ email: 'bursar@greenwood.example', password: 'demo_pass' }),
      });
      expect(login.status).toBe(200);
      const token = login.body.accessToken as string;
      // An invoice nothing has been paid on yet, whatever the date makes of its status (pending or
      // overdue): the seed leaves one Term 1 invoice half paid and a Term 2 one part paid by credit,
      // and those already list a payment. In number order, so which one each provider takes is fixed.
      const listed = await json('/api/invoices?limit=200&sort=number', { token });
      const owing = (
        listed.body.data as { id: string; balanceMinor: number; paidMinor: number; status: string }[]
      ).filter((row) => row.balanceMinor > 0 && row.paidMinor === 0 && row.status !== 'void');
      const invoice = owing[provider === 'razorpay' ? 0 : 1]!;
      expect(invoice.balanceMinor).toBeGreaterThan(0);

      const link = await json(`/api/invoices/${invoice.id}/payment-link`, {
        method: 'POST',
        token,
        body: JSON.stringify({ provider }),
      });
      expect(link.status, JSON.stringify(link.body)).toBe(201);
      expect(link.body.amountMinor).toBe(invoice.balanceMinor);
      // The link is the sandbox's pay page, served by billing-webhook behind this Caddy.
      expect(link.body.url.startsWith(`${base}/webhooks/sandbox/pay/`)).toBe(true);
      const page = await fetch(link.body.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Pay');

      const paid = await fetch(link.body.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
        body: 'action=pay',
      });
      expect(paid.status).toBe(200);
      // The webhooks went through Caddy to billing-webhook, the outbox to the worker, the ledger.
      await expect
        .poll(async () => (await json(`/api/invoices/${invoice.id}`, { token })).body.status, {
          timeout: 20_000,
          interval: 250,
        })
        .toBe('paid');
      const payments = await json(`/api/invoices/${invoice.id}/payments`, { token });
      expect(payments.body.data).toHaveLength(1);
      expect(payments.body.data[0]).toMatchObject({
        provider,
        method: 'online',
        amountMinor: invoice.balanceMinor,
      });
      // Both provider events (the capture and the order's paid event) reach the same payment; the
      // second may still be on its way through the outbox when the invoice already reads paid.
      await expect
        .poll(
          async () =>
            (await json(`/api/payments/${payments.body.data[0].id}`, { token })).body.events
              .map((event: { status: string }) => event.status)
              .sort(),
          { timeout: 20_000, interval: 250 },
        )
        .toEqual(['applied', 'duplicate']);
    },
    40_000,
  );

  it('follows a razorpay payment in one trace: the signed webhook through Caddy, the payment job, the receipt render and its WhatsApp job', async () => {
    const SERVER = 2;
    const jobSpan = (span: ExportedSpan, job: string) => span.attributes['bullmq.job.name'] === job;
    // The payment above was taken by the sandbox's signed webhooks; each one is a trace of its own.
    const chain = () => {
      const webhooks = collector.spans.filter(
        (span) =>
          span.service === 'bursar-billing-webhook' &&
          span.kind === SERVER &&
          JSON.stringify(span).includes('/webhooks/razorpay'),
      );
      for (const webhook of webhooks) {
        const trace = collector.spans.filter((span) => span.traceId === webhook.traceId);
        const payment = trace.find(
          (span) => span.service === 'bursar-worker' && jobSpan(span, 'payment-event.apply'),
        );
        const receipt = trace.find((span) => jobSpan(span, 'receipt-pdf.render'));
        const message = trace.find((span) => jobSpan(span, 'whatsapp.transactional'));
        if (payment && receipt && message) return { webhook, payment, receipt, message, spans: trace.length };
      }
      return undefined;
    };
    await expect
      .poll(() => chain() !== undefined, {
        timeout: 30_000,
        interval: 250,
        message: `no trace from a razorpay webhook through its payment, receipt and message jobs among ${collector.spans.length} spans`,
      })
      .toBe(true);
    const found = chain()!;
    // Each job's span descends from the one before: the payment job's parent is in the webhook's trace.
    expect(found.payment.parentSpanId).toBeTruthy();
    expect(found.spans).toBeGreaterThan(4);
  });

  it('renders the seeded invoices to PDF in the worker, served by the api through Caddy', async () => {
    const token = await demoToken();
    const listed = await jsonAt('/api/invoices?limit=5', { token });
    const invoice = (listed.body.data as { id: string; number: string }[])[0]!;
    await expect
      .poll(
        async () =>
          (
            await fetch(`${base}/api/invoices/${invoice.id}/pdf`, {
              headers: { authorization: `Bearer ${token}` },
            })
          ).status,
        {
          timeout: 30_000,
          interval: 500,
        },
      )
      .toBe(200);
    const pdf = await fetch(`${base}/api/invoices/${invoice.id}/pdf`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.headers.get('content-disposition')).toBe(`inline; filename="${invoice.number}.pdf"`);
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
  }, 40_000);

  it('runs a WhatsApp campaign end to end: template approved by the sandbox, sends, signed statuses back through Caddy', async () => {
    const token = await demoToken();
    const template = await jsonAt('/notify/templates', {
      method: 'POST',
      token,
      body: JSON.stringify({
        name: 'term_fees',
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, the balance for {{2}} is {{3}}.',
      }),
    });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const submitted = await jsonAt(`/notify/templates/${template.body.id}/submit`, { method: 'POST', token });
    expect(submitted.status, JSON.stringify(submitted.body)).toBeLessThan(300);
    await expect
      .poll(async () => (await jsonAt(`/notify/templates/${template.body.id}`, { token })).body.status, {
        timeout: 20_000,
      })
      .toBe('approved');
    const campaign = await jsonAt('/notify/campaigns', {
      method: 'POST',
      token,
      body: JSON.stringify({
        name: 'Term fees',
        templateId: template.body.id,
        params: ['guardian.name', 'student.firstName', 'invoice.balance'],
        audience: {},
      }),
    });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    const launched = await jsonAt(`/notify/campaigns/${campaign.body.id}/launch`, { method: 'POST', token });
    expect(launched.status, JSON.stringify(launched.body)).toBe(202);
    await expect
      .poll(
        async () => {
          const { stats } = (await jsonAt(`/notify/campaigns/${campaign.body.id}`, { token })).body as {
            stats: { total: number; read: number; excludedInvalid: number; excludedOptedOut: number };
          };
          return (
            stats.total > 0 && stats.read + stats.excludedInvalid + stats.excludedOptedOut === stats.total
          );
        },
        { timeout: 40_000, interval: 500 },
      )
      .toBe(true);
    const sandbox = (await (
      await fetch(`http://127.0.0.1:${ports.WHATSAPP_SANDBOX_PORT}/_sandbox/messages`)
    ).json()) as { to: string }[] | { messages: { to: string }[] };
    const messages = Array.isArray(sandbox) ? sandbox : sandbox.messages;
    expect(messages.length).toBeGreaterThan(0);
    expect(new Set(messages.map((message) => message.to)).size).toBe(messages.length);
  }, 90_000);

  it('stops every process cleanly on Ctrl+C, and pnpm calls it a success', async () => {
    const exited = once(child, 'exit');
    // As a terminal does: the signal goes to the whole foreground process group.
    process.kill(-child.pid!, 'SIGINT');
    const [code, signal] = await exited;
    expect({ code, signal }, output.slice(-3000)).toEqual({ code: 0, signal: null });
    expect(plain()).not.toContain('ELIFECYCLE');
    expect(plain(), plain().slice(-4000)).not.toMatch(/exited with code (?!0\b)/);
    for (const name of [...SERVICES.map((spec) => spec.name), 'whatsapp', 'caddy']) {
      expect(plain()).toMatch(new RegExp(`^\\[${name}\\s*\\] .* exited with code 0$`, 'm'));
    }
    await expect(fetch(`${base}/api/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${ports.API_PORT}/healthz`)).rejects.toThrow();
  }, 30_000);
});
