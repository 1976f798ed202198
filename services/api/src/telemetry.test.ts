import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  freshDatabase,
  startServiceProcess,
  testQueuePrefix,
  testRedisUrl,
  type ServiceProcess,
} from '@bursar/test-support';
import { hashPassword } from './auth/password.js';

const { url: databaseUrl, db } = await freshDatabase();

/** A span as the OTLP/HTTP JSON exporter sends it. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

interface LogLine {
  msg: string;
  level: string;
  trace_id?: string;
  request_id?: string;
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
}

/** Stands in for the OpenTelemetry Collector: keeps every span the api exports, as the exporter sent it. */
async function startCollector(): Promise<{
  url: string;
  server: Server;
  spans: OtlpSpan[];
  bodies: string[];
}> {
  const spans: OtlpSpan[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      const parsed = JSON.parse(body) as {
        resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[];
      };
      for (const resource of parsed.resourceSpans ?? [])
        for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, spans, bodies };
}

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((each) => each.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
};

async function until<T>(what: string, read: () => T | undefined, output: () => string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within 15 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The api as `pnpm start` and the image run it (telemetry preloaded, JSON
 * request log) exporting to a collector: what an operator reads in the logs
 * and the traces for one request.
 */
describe('the api’s spans and request log, as the process writes them', () => {
  let child: ServiceProcess;
  let base = '';
  let collector: Awaited<ReturnType<typeof startCollector>>;
  const lines = () =>
    child
      .output(true)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    collector = await startCollector();
    const schoolId = '6f1c2a3b-0000-4000-8000-0000000000a1';
    await sql`insert into schools (id, name, currency, timezone) values (${schoolId}, 'Trace School', 'INR', 'Asia/Kolkata')`.execute(
      db,
    );
    await sql`insert into users (school_id, email, name, password_hash, role)
              values (${schoolId}, 'trace@school.test', 'Trace Accountant', ${await hashPassword('trace-password')}, 'accountant')`.execute(
      db,
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = startServiceProcess(
      'api',
      {
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl(),
        QUEUE_PREFIX: testQueuePrefix(),
        API_PORT: String(port),
        OTEL_SERVICE_NAME: 'bursar-api',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        // Every read traced, so this test sees the spans of its GETs (production traces a share).
        BURSAR_TRACE_READS_RATIO: '1',
      },
      { telemetry: true },
    );
    await until(
      'healthy api',
      () => (lines().some((line) => line.msg.includes('listening')) ? true : undefined),
      () => child.output(),
    );
  }, 90_000);

  afterAll(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    collector?.server.close();
  });

  it('names a request’s one server span by its route, and its log line carries that trace', async () => {
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'trace@school.test', password: 'trace-password' }),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const me = await fetch(`${base}/api/me`, {
      headers: { authorization: `Bearer ${accessToken}`, 'x-request-id': 'trace-me-1' },
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ email: 'trace@school.test', name: 'Trace Accountant' });
    await fetch(`${base}/api/healthz`);

    const span = await until(
      'span for GET /api/me',
      () => collector.spans.find((each) => each.name === 'GET /api/me'),
      () => child.output(),
    );
    expect(span.kind).toBe(2); // SERVER
    expect(attribute(span, 'http.route')).toBe('/api/me');
    expect(String(attribute(span, 'http.response.status_code'))).toBe('200');
    const line = await until(
      'request log line',
      () => lines().find((each) => each.request_id === 'trace-me-1'),
      () => child.output(),
    );
    expect(line).toMatchObject({
      msg: 'request completed',
      level: 'info',
      req: { method: 'GET', url: '/api/me' },
      res: { statusCode: 200 },
      trace_id: span.traceId,
    });
    // One span from the web layer per request: no span per express layer, none for health checks.
    const names = collector.spans.map((each) => each.name);
    expect(names.filter((name) => /request handler|middleware|router/.test(name))).toEqual([]);
    expect(names.filter((name) => name.includes('healthz'))).toEqual([]);
    // The login's queries are children of the login's server span (pg spans need a parent).
    const loginSpan = collector.spans.find((each) => each.name === 'POST /api/auth/login');
    expect(loginSpan).toBeDefined();
    const clientKind = 3;
    expect(
      collector.spans.some((each) => each.parentSpanId === loginSpan!.spanId && each.kind === clientKind),
    ).toBe(true);
  });

  it('continues the caller’s trace, and records nothing the caller did not sample', async () => {
    const traceId = 'a'.repeat(31) + '1';
    const parentSpanId = 'b'.repeat(15) + '2';
    const sampled = await fetch(`${base}/api/healthz-not-a-route`, {
      headers: { traceparent: `00-${traceId}-${parentSpanId}-01`, 'x-request-id': 'trace-parent-1' },
    });
    expect(sampled.status).toBe(404);
    const span = await until(
      'span continuing the caller’s trace',
      () => collector.spans.find((each) => each.traceId === traceId),
      () => child.output(),
    );
    expect(span.parentSpanId).toBe(parentSpanId);
    expect(span.name).toBe('GET');
    const line = await until(
      'its log line',
      () => lines().find((each) => each.request_id === 'trace-parent-1'),
      () => child.output(),
    );
    expect(line.trace_id).toBe(traceId);

    const unsampledTrace = 'c'.repeat(31) + '3';
    await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${unsampledTrace}-${parentSpanId}-00`,
        'x-request-id': 'trace-parent-2',
      },
      body: JSON.stringify({ email: 'nobody@school.test', password: 'not-the-password' }),
    });
    const unsampledLine = await until(
      'the unsampled request’s log line',
      () => lines().find((each) => each.request_id === 'trace-parent-2'),
      () => child.output(),
    );
    // Not recorded, yet its log line still names the trace it belongs to.
    expect(unsampledLine.trace_id).toBe(unsampledTrace);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(collector.spans.filter((each) => each.traceId === unsampledTrace)).toEqual([]);
  });

  it('keeps a pay link’s token out of the request log and the trace, errors included', async () => {
    const token = 'v1.secretpaylinktoken0123456789abcdef.deadbeef';
    const page = await fetch(`${base}/api/pay/i/${token}`, { headers: { 'x-request-id': 'trace-pay-1' } });
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    const line = await until(
      'pay link log line',
      () => lines().find((each) => each.request_id === 'trace-pay-1'),
      () => child.output(),
    );
    expect(line.req?.url).toBe('/api/pay/i/:token');
    const span = await until(
      'pay link span',
      () => collector.spans.find((each) => each.name === 'GET /api/pay/i/:token'),
      () => child.output(),
    );
    expect(attribute(span, 'url.path')).toBe('/api/pay/i/:token');
    expect(child.output(true)).not.toContain(token);
    expect(collector.bodies.join('\n')).not.toContain(token);
  });
});
