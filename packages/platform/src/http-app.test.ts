import { AppError } from '@bursar/contracts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Problem, ReadinessResponse } from '@bursar/contracts';
import { startApp } from '@bursar/test-support';
import { createHttpApp } from './http-app.js';
import { createLogger } from './logger.js';
import { createRedis } from './redis.js';
import { route } from './route.js';

const logger = createLogger('test', 'silent');

function app(readiness = {}) {
  return createHttpApp({
    service: 'test',
    basePath: '/test',
    logger,
    config: { BODY_LIMIT_BYTES: 1_048_576, TRUST_PROXY: 'loopback' },
    readiness,
    routes: (app) => {
      app.post(
        '/test/echo',
        route(
          {
            body: z.strictObject({ name: z.string().min(1), amountMinor: z.number().int().positive() }),
            query: z.strictObject({ dryRun: z.enum(['true', 'false']).optional() }),
            status: 201,
          },
          ({ body }) => body,
        ),
      );
      app.get('/test/conflict', () => {
        throw new AppError('conflict', 'already taken');
      });
      app.get('/test/crash', () => {
        throw new Error('SELECT secret FROM internals');
      });
    },
  });
}

async function problem(response: Response) {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return Problem.parse(await response.json());
}

describe('createHttpApp', async () => {
  const { url } = await startApp(app());

  it('answers an unknown route with a 404 problem', async () => {
    const response = await fetch(`${url}/test/nope`);
    expect(response.status).toBe(404);
    const body = await problem(response);
    expect(body).toMatchObject({ status: 404, code: 'not_found', instance: '/test/nope' });
  });

  it('answers malformed JSON with a 400 problem', async () => {
    const response = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "x",',
    });
    expect(response.status).toBe(400);
    expect((await problem(response)).code).toBe('malformed_json');
  });

  it('answers a 2 MB body with a 413 problem', async () => {
    const response = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect((await problem(response)).code).toBe('payload_too_large');
  });

  it('reports every invalid field in one 422 problem, including unknown fields', async () => {
    const response = await fetch(`${url}/test/echo?dryRun=maybe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '', amountMinor: 1.5, schoolId: 'x' }),
    });
    expect(response.status).toBe(422);
    const body = await problem(response);
    const paths = body.errors?.map((e) => e.path).sort();
    expect(paths).toEqual(['body.amountMinor', 'body.name', 'body.schoolId', 'query.dryRun']);
  });

  it('refuses a body that is not JSON with 415', async () => {
    const response = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'name=x',
    });
    expect(response.status).toBe(415);
    expect((await problem(response)).code).toBe('unsupported_media_type');
  });

  it('sends valid input to the handler with the route status', async () => {
    const response = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fees', amountMinor: 100 }),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ name: 'fees', amountMinor: 100 });
  });

  it('maps domain errors through the code table and hides unexpected ones', async () => {
    const conflict = await fetch(`${url}/test/conflict`);
    expect(conflict.status).toBe(409);
    expect((await problem(conflict)).detail).toBe('already taken');

    const crash = await fetch(`${url}/test/crash`);
    expect(crash.status).toBe(500);
    const body = await problem(crash);
    expect(JSON.stringify(body)).not.toContain('SELECT');
    expect(body.detail).toContain(crash.headers.get('x-request-id'));
  });

  it('puts X-Request-Id on every response, echoing a well-formed one', async () => {
    const responses = await Promise.all([
      fetch(`${url}/healthz`),
      fetch(`${url}/test/healthz`),
      fetch(`${url}/test/nope`),
      fetch(`${url}/test/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{',
      }),
    ]);
    for (const response of responses) expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const echoed = await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc.123');
    const replaced = await fetch(`${url}/healthz`, {
      headers: { 'x-request-id': 'bad id with spaces\u00e9' },
    });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers /healthz at the root and under the base path', async () => {
    for (const path of ['/healthz', '/test/healthz']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', service: 'test' });
    }
  });
});

describe('readiness', () => {
  it('answers 503 naming Redis when Redis is unreachable', async () => {
    // Port 1 is never a Redis server; the producer connection fails fast.
    const redis = createRedis('redis://127.0.0.1:1', 'producer', { retryStrategy: () => null });
    redis.on('error', () => undefined);
    const { url } = await startApp(app({ postgres: async () => undefined, redis: () => redis.ping() }));
    const response = await fetch(`${url}/test/readyz`);
    expect(response.status).toBe(503);
    const body = ReadinessResponse.parse(await response.json());
    expect(body).toMatchObject({ status: 'unavailable', failing: ['redis'] });
    expect(body.checks.redis?.status).toBe('down');
    expect(body.checks.postgres?.status).toBe('up');
    redis.disconnect();
  });

  it('answers 200 when every dependency answers', async () => {
    const { url } = await startApp(app({ postgres: async () => undefined }));
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ready', failing: [] });
  });
});

describe('text input', async () => {
  const { url } = await startApp(app());
  it('refuses the NUL character anywhere with a 422 naming the field', async () => {
    const response = await fetch(`${url}/test/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fees\u0000', amountMinor: 1 }),
    });
    expect(response.status).toBe(422);
    expect((await problem(response)).errors?.[0]?.path).toBe('body.name');
  });
});
