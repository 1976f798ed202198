/* eslint-disable @typescript-eslint/no-explicit-any -- the document is walked as plain JSON */
import SwaggerParser from '@apidevtools/swagger-parser';
import express, { Router } from 'express';
import type { OpenAPIV3_1 } from 'openapi-types';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestApi, type TestApi } from '../testing/harness.js';
import { createApp } from '../app.js';
import { loadServiceConfig } from '../config.js';
import { createLogger, describeRoute, route } from '@bursar/platform';
import { listAppRoutes } from './openapi.js';

type Document = OpenAPIV3_1.Document;

/**
 * The app's routes as express itself lists them (`Router#listRoutes`, router
 * 2.3), independently of the generator's own walk of the router stack.
 */
function expressRoutes(): { method: string; path: string }[] {
  // Building the app opens nothing; the routes are all it is used for here.
  const config = loadServiceConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_PRIVATE_KEY: 'unused' });
  const app = createApp({
    config,
    logger: createLogger('api-openapi-test', 'silent'),
    db: {} as never,
    redis: {} as never,
    keys: { jwks: { keys: [] } } as never,
    userStates: {} as never,
  });
  interface Listed {
    path: string;
    methods?: string[];
    router?: { listRoutes(): Listed[] };
  }
  const out: { method: string; path: string }[] = [];
  const visit = (listed: Listed[], prefix: string) => {
    for (const entry of listed) {
      const path = `${prefix}/${entry.path}`.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
      if (entry.router) visit(entry.router.listRoutes(), path);
      for (const method of entry.methods ?? []) {
        if (method !== 'HEAD' && method !== '*') out.push({ method: method.toLowerCase(), path });
      }
    }
  };
  visit((app as unknown as { router: { listRoutes(): Listed[] } }).router.listRoutes(), '');
  return out;
}

describe('OpenAPI document', () => {
  let api: TestApi;
  let doc: Document;

  beforeAll(async () => {
    api = await createTestApi();
    const response = await api.request<Document>(null, 'GET', '/api/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    doc = response.body;
  });

  const operation = (path: string, method: string): any => (doc.paths as any)?.[path]?.[method];

  it('is OpenAPI 3.1 with the api title and version', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'Bursar API', version: expect.any(String) });
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
  });

  it('is a valid OpenAPI document', async () => {
    // validate() dereferences in place; give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('lists every route express has under /api, and nothing else', () => {
    const expected = expressRoutes()
      .filter(({ path }) => path.startsWith('/api/'))
      .map(({ method, path }) => `${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key))
        .map((method) => `${method} ${path}`),
    );
    expect(expected.length).toBeGreaterThan(20);
    expect(expected).toContain('post /api/invoices/{id}/payments');
    expect(expected).toContain('get /api/openapi.json');
    expect(documented.sort()).toEqual([...new Set(expected)].sort());
  });

  it('documents a manual payment: Idempotency-Key, body schema, 201, problem+json errors', () => {
    const op = operation('/api/invoices/{id}/payments', 'post');
    expect(op).toBeDefined();
    const parameters: any[] = op.parameters;
    expect(parameters).toContainEqual(expect.objectContaining({ in: 'path', name: 'id', required: true }));
    const header = parameters.find((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
    expect(header).toMatchObject({ required: true, schema: { type: 'string' } });

    const body = op.requestBody.content['application/json'].schema;
    expect(body).toEqual({ $ref: '#/components/schemas/CreatePaymentBody' });
    const schema: any = doc.components?.schemas?.CreatePaymentBody;
    expect(schema.properties.amountMinor.type).toBe('integer');
    expect(schema.required).toEqual(expect.arrayContaining(['amountMinor', 'method']));
    expect(schema.additionalProperties).toBe(false);

    expect(op.responses['201'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/PaymentReceipt',
    });
    for (const status of ['401', '403', '404', '409', '422']) {
      expect(op.responses[status].content['application/problem+json'].schema).toEqual({
        $ref: '#/components/schemas/Problem',
      });
    }
    expect(op.responses['422'].description).toContain('idempotency_key_reused');
    expect(op['x-permission']).toBe('payments:write');
  });

  it('puts bearer security and the permission on guarded routes, none on public ones', () => {
    const guarded: string[] = [];
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(item ?? {}) as [string, any][]) {
        if (!op?.responses) continue;
        if (op['x-permission']) {
          // A permission guard without `authenticate` in front would answer 401 to everyone.
          expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
          expect(op.responses['403'], `${method} ${path}`).toBeDefined();
        }
        if (op.security) {
          guarded.push(`${method} ${path}`);
          expect(op.responses['401'], `${method} ${path}`).toBeDefined();
        }
      }
    }
    expect(guarded).toEqual(
      expect.arrayContaining(['get /api/me', 'get /api/invoices', 'post /api/invoices']),
    );
    expect(operation('/api/invoices', 'get')['x-permission']).toBe('invoices:read');
    for (const [path, method] of [
      ['/api/auth/login', 'post'],
      ['/api/openapi.json', 'get'],
      ['/api/docs', 'get'],
      ['/api/healthz', 'get'],
    ] as const) {
      expect(operation(path, method).security, `${method} ${path}`).toBeUndefined();
    }
  });

  it('describes inputs and answers from the contracts', () => {
    const list = operation('/api/invoices', 'get');
    const names = list.parameters.map((p: any) => `${p.in}:${p.name}`);
    expect(names).toEqual(
      expect.arrayContaining(['query:limit', 'query:offset', 'query:status', 'query:sort']),
    );
    expect(list.parameters.find((p: any) => p.name === 'limit').required).toBeFalsy();
    // A query value is a string, never null (zod-to-openapi calls a coerced number nullable).
    expect(list.parameters.find((p: any) => p.name === 'offset').schema.type).toBe('integer');
    expect(list.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/InvoiceList',
    });
    expect(operation('/api/invoices/{id}', 'delete').responses['204']).toEqual({ description: 'No content' });
    expect(operation('/api/auth/login', 'post').responses['429']).toBeDefined();
    expect(doc.components?.schemas?.Problem).toBeDefined();
  });

  it('serves Swagger UI from local assets only', async () => {
    const page = await fetch(`${api.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('id="swagger-ui"');
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^\/api\/docs\/[\w.-]+$/);
      const asset = await fetch(`${api.url}${ref}`);
      expect(asset.status, ref).toBe(200);
      const text = await asset.text();
      if (ref.endsWith('init.js')) {
        expect(text).toContain('url: "/api/openapi.json"');
        expect(text).toContain('validatorUrl: null');
        expect(text).not.toMatch(/https?:/);
      }
    }
    expect(refs).toContain('/api/docs/swagger-ui-bundle.js');
    expect(refs).toContain('/api/docs/swagger-ui.css');
    expect((await fetch(`${api.url}/api/docs/index.html`)).status).toBe(404);
    expect((await fetch(`${api.url}/api/docs/../package.json`)).status).toBe(404);
  });
});

describe('listAppRoutes', () => {
  it('applies documented middleware to the routes after it under its path, and merges handler docs', () => {
    const app = express();
    const guard = describeRoute((_req: unknown, _res: unknown, next: () => void) => next(), {
      bearerAuth: true,
      errors: ['unauthenticated'],
    });
    const open = Router();
    open.get(
      '/api/open',
      route({ response: z.object({ ok: z.boolean() }) }, () => ({ ok: true })),
    );
    const closed = Router();
    closed.use('/api/closed', guard);
    closed.get(
      '/api/closed/:id',
      route({ params: z.object({ id: z.string() }), errors: ['conflict'] }, () => ({})),
    );
    closed.get(
      '/api/closed/:id',
      route({ summary: 'shadowed' }, () => ({})),
    );
    app.use(open);
    app.use('/', closed);
    app.get(
      '/api/open',
      route({ summary: 'shadowed' }, () => ({})),
    );

    const routes = listAppRoutes(app);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(['get /api/open', 'get /api/closed/:id']);
    expect(routes[0]!.docs.bearerAuth).toBeUndefined();
    expect(routes[0]!.docs.summary).toBeUndefined();
    expect(routes[1]!.docs).toMatchObject({ bearerAuth: true, errors: ['unauthenticated', 'conflict'] });
  });
});
