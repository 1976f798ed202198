import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  freshDatabase,
  startServiceProcess,
  testQueuePrefix,
  testRedisUrl,
  type ServiceProcess,
} from '@bursar/test-support';

const { url: databaseUrl } = await freshDatabase();

interface LogLine {
  level: string;
  msg: string;
  service?: string;
  trace_id?: string;
  span_id?: string;
  request_id?: string;
  req?: { url?: string; headers?: Record<string, string> };
  res?: { statusCode?: number };
}

/**
 * The service as `pnpm start` and the image run it: OpenTelemetry registered
 * before anything loads, JSON logs on stdout. What an operator reads.
 */
describe('billing-webhook logs, as the process writes them', () => {
  let port = 0;
  let child: ServiceProcess;
  const output = () => child.output(true);
  const lines = () =>
    output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    port = await freePort();
    child = startServiceProcess(
      'billing-webhook',
      {
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl(),
        QUEUE_PREFIX: testQueuePrefix(),
        OTEL_SERVICE_NAME: 'bursar-billing-webhook',
        WEBHOOK_PORT: String(port),
      },
      { telemetry: true },
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`billing-webhook exited:\n${output()}`);
      if (Date.now() > deadline) throw new Error(`billing-webhook not up:\n${output()}`);
      const up = await fetch(`http://127.0.0.1:${port}/webhooks/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 90_000);

  afterAll(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('gives a request’s log line its trace id, span id, request id and service, and no phone, token or signature in clear', async () => {
    const phone = '+919812345678';
    const signature = 'f'.repeat(64);
    const token = 'tok_live_do_not_log_0123456789';
    const body = JSON.stringify({
      event: 'payment.captured',
      payload: { payment: { entity: { id: 'pay_logtest', contact: phone, email: 'payer@example.com' } } },
    });
    const response = await fetch(`http://127.0.0.1:${port}/webhooks/razorpay`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-razorpay-signature': signature,
        authorization: `Bearer ${token}`,
        'x-request-id': 'log-test-request-0001',
      },
      body,
    });
    // A bad signature: refused, as problem+json, and nothing stored.
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);

    let line: LogLine | undefined;
    const deadline = Date.now() + 10_000;
    while (!line && Date.now() < deadline) {
      line = lines().find((each) => each.req?.url === '/webhooks/razorpay' && each.res?.statusCode === 400);
      if (!line) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(line, output()).toBeDefined();
    expect(line!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(line!.trace_id).not.toBe('0'.repeat(32));
    expect(line!.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(line!.request_id).toBe('log-test-request-0001');
    expect(line!.service).toBe('billing-webhook');
    // Nothing a client sent that is personal or secret is in the log, wherever it was.
    for (const secret of [phone, phone.slice(1), token, signature]) expect(output()).not.toContain(secret);
  });
});
