import { gzipSync } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JWT_AUDIENCE, JWT_ISSUER } from '@bursar/contracts';
import { startApp } from '@bursar/test-support';
import { createAuthenticator, jwksKeySource, type Caller } from './auth.js';
import { createHttpApp } from './http-app.js';
import { createLogger } from './logger.js';
import { route } from './route.js';
import type { UserState, UserStates } from './user-state.js';

const logger = createLogger('guards-test', 'silent');
const USER = '0b4d3f5e-8c1a-4f8e-9a55-3f2d7c1b9e01';

/** Users as the authenticator sees them; the real cache is tested against PostgreSQL in the api. */
function fixedUsers(states: Record<string, UserState>): UserStates {
  return { get: async (id) => states[id], forget: () => undefined, close: async () => undefined };
}

const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' }] };

function token(claims: { exp?: boolean; iat?: boolean; sub?: string } = {}) {
  let jwt = new SignJWT({ role: 'accountant', schoolId: USER })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE);
  if (claims.sub !== '') jwt = jwt.setSubject(claims.sub ?? USER);
  if (claims.iat !== false) jwt = jwt.setIssuedAt();
  if (claims.exp !== false) jwt = jwt.setExpirationTime('5m');
  return jwt.sign(privateKey);
}

function app(config: { TRUST_PROXY?: string; METRICS_TOKEN?: string } = {}) {
  return createHttpApp({
    service: 'guards',
    basePath: '/guards',
    logger,
    readiness: {},
    config: { BODY_LIMIT_BYTES: 1_048_576, TRUST_PROXY: 'loopback', ...config },
    authenticator: createAuthenticator({
      keys: jwksKeySource({ jwks }),
      users: fixedUsers({
        [USER]: { role: 'accountant', schoolId: USER, status: 'active', email: 'a@school.test', name: 'A' },
      }),
    }),
    routes: (express) => {
      express.post(
        '/guards/items',
        route({ body: z.strictObject({ name: z.string() }), status: 201 }, ({ body }) => body),
      );
      express.get(
        '/guards/items',
        route({}, () => ({ data: [] })),
      );
      express.get(
        '/guards/mine',
        route({ permission: 'invoices:read' }, ({ caller }): Caller => caller),
      );
      express.get(
        '/guards/schools',
        route({ permission: 'schools:create' }, () => ({ ok: true })),
      );
      express.get(
        '/guards/ip',
        route({}, ({ req }) => ({ ip: req.ip })),
      );
    },
  });
}

describe('http guards', async () => {
  const { url } = await startApp(app());

  it('answers a wrong method with 405 and Allow, not 404', async () => {
    const response = await fetch(`${url}/guards/items`, { method: 'PUT' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(((await response.json()) as { code: string }).code).toBe('method_not_allowed');
    expect((await fetch(`${url}/guards/nothing`, { method: 'PUT' })).status).toBe(404);
  });

  it('answers a body that is valid JSON but not an object with 422, and null too', async () => {
    for (const body of ['"AAA"', '42', 'null', '[1]', 'true']) {
      const response = await fetch(`${url}/guards/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(response.status, body).toBe(422);
      expect(((await response.json()) as { errors: unknown[] }).errors[0]).toMatchObject({ path: 'body' });
    }
    const broken = await fetch(`${url}/guards/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(broken.status).toBe(400);
  });

  it('answers a bogus or lying Content-Encoding with 415 or 400, never 500', async () => {
    const send = (encoding: string, body: Buffer) =>
      new Promise<{ status: number; type: string }>((resolve, reject) => {
        const request = httpRequest(
          `${url}/guards/items`,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-encoding': encoding,
              'content-length': body.length,
            },
          },
          (response) => {
            response.resume();
            response.on('end', () =>
              resolve({ status: response.statusCode!, type: String(response.headers['content-type']) }),
            );
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    const json = Buffer.from('{"name":"x"}');
    expect(await send('bogus', json)).toMatchObject({
      status: 415,
      type: expect.stringContaining('problem+json'),
    });
    expect(await send('gzip', json)).toMatchObject({
      status: 400,
      type: expect.stringContaining('problem+json'),
    });
    expect(await send('br', json)).toMatchObject({ status: 400 });
    expect((await send('gzip', gzipSync(json))).status).toBe(201);
  });

  it('requires exp, iat and sub in access tokens and names the caller from the current user state', async () => {
    const get = (jwt: string) => fetch(`${url}/guards/mine`, { headers: { authorization: `Bearer ${jwt}` } });
    const ok = await get(await token());
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ userId: USER, role: 'accountant', schoolId: USER });
    for (const missing of [{ exp: false }, { iat: false }, { sub: '' }]) {
      expect((await get(await token(missing))).status, JSON.stringify(missing)).toBe(401);
    }
    expect((await get(await token({ sub: '7c1f0d2e-1111-4222-8333-944455556666' }))).status).toBe(401);
    expect(
      (await fetch(`${url}/guards/schools`, { headers: { authorization: `Bearer ${await token()}` } }))
        .status,
    ).toBe(403);
    expect((await fetch(`${url}/guards/mine`)).status).toBe(401);
  });

  it('serves /metrics only to callers not behind a proxy when no token is set', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    const proxied = await fetch(`${url}/metrics`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(proxied.status).toBe(404);
  });

  it('serves /metrics with METRICS_TOKEN only to the bearer of it', async () => {
    const guarded = await startApp(app({ METRICS_TOKEN: 'a-metrics-token-of-some-length' }));
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(404);
    const wrong = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer not-it' } });
    expect(wrong.status).toBe(404);
    const right = await fetch(`${guarded.url}/metrics`, {
      headers: { authorization: 'Bearer a-metrics-token-of-some-length' },
    });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('http_server_duration_seconds');
  });

  it('takes the client address from X-Forwarded-For only from the trusted proxy', async () => {
    const viaLoopback = await fetch(`${url}/guards/ip`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(((await viaLoopback.json()) as { ip: string }).ip).toBe('203.0.113.9');
    // Caddy is at another address: a direct caller on loopback cannot choose its address.
    const strict = await startApp(app({ TRUST_PROXY: '10.1.2.3' }));
    const direct = await fetch(`${strict.url}/guards/ip`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(((await direct.json()) as { ip: string }).ip).toMatch(/127\.0\.0\.1/);
  });
});
