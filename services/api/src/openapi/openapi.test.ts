/* eslint-disable @typescript-eslint/no-explicit-any -- the document is walked as plain JSON */
import SwaggerParser from '@apidevtools/swagger-parser';
import express, { Router } from 'express';
import type { OpenAPIV3_1 } from 'openapi-types';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestApi, type TestApi } from '../testing/harness.js';
import { createApp } from '../app.js';
import { loadServiceConfig } from '../config.js';
import { AcademicYear, CurrencyCode, Locale } from '@bursar/contracts';
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
    outbox: {} as never,
    documents: {} as never,
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

  describe('says what the server enforces', () => {
    const schemas = (): Record<string, any> => doc.components?.schemas ?? {};
    /** A component's schema, following one `$ref`. */
    const resolve = (schema: any): any =>
      schema?.$ref ? schemas()[String(schema.$ref).replace('#/components/schemas/', '')] : schema;
    const property = (component: string, name: string): any =>
      resolve(schemas()[component]?.properties?.[name]);
    const matches = (schema: any, value: string) => new RegExp(schema.pattern).test(value);
    // A month ahead: a valid due date on any day, in any school's time zone.
    const dueDate = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);

    it('phone numbers are E.164', () => {
      for (const [component, name] of [
        ['CreateGuardianBody', 'phone'],
        ['UpdateGuardianBody', 'phone'],
        ['CreateSchoolBody', 'contactPhone'],
        ['UpdateSchoolBody', 'contactPhone'],
      ]) {
        const phone = property(component!, name!);
        expect(phone.pattern, `${component}.${name}`).toBe('^\\+[1-9]\\d{6,14}$');
        expect(phone.description).toMatch(/E\.164/);
        expect(phone.description).toMatch(/numbering plan/);
      }
    });

    it('currencies are the ISO 4217 codes the server knows, and no others', () => {
      expect(property('CreateSchoolBody', 'currency')).toBe(schemas().CurrencyCode);
      expect(schemas().School.properties.currency).toEqual({ $ref: '#/components/schemas/CurrencyCode' });
      const listed: string[] = schemas().CurrencyCode.enum;
      expect(listed).toEqual(expect.arrayContaining(['INR', 'USD', 'MXN', 'EUR']));
      // Every three-letter code: in the document's list exactly when the contract takes it.
      const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
      for (const a of letters)
        for (const b of letters)
          for (const c of letters) {
            const code = a + b + c;
            expect(listed.includes(code), code).toBe(CurrencyCode.safeParse(code).success);
          }
    });

    it('time zones and locales are described, locales with a pattern the server always accepts', () => {
      const timezone = property('CreateSchoolBody', 'timezone');
      expect(timezone.description).toMatch(/IANA time zone/);
      expect(timezone.examples).toEqual(['Asia/Kolkata']);
      const locale = property('CreateSchoolBody', 'locale');
      expect(locale.description).toMatch(/BCP 47/);
      for (const language of ['en', 'hi', 'es', 'zh', 'yue', 'und'])
        for (const script of ['', '-Latn', '-Hant', '-Deva'])
          for (const region of ['', '-IN', '-MX', '-TW', '-419', '-001']) {
            const tag = language + script + region;
            expect(matches(locale, tag), tag).toBe(true);
            expect(Locale.safeParse(tag).success, tag).toBe(true);
          }
      for (const tag of ['e', 'english', 'en_IN', 'en-', '+05:30'])
        expect(matches(locale, tag), tag).toBe(false);
      expect(property('CreateGuardianBody', 'preferredLanguage').description).toMatch(/BCP 47/);
    });

    it('academic years match the pattern exactly when the server takes them', () => {
      for (const [component, name] of [
        ['CreateClassBody', 'academicYear'],
        ['UpdateClassBody', 'academicYear'],
      ]) {
        const year = property(component!, name!);
        expect(year.description, `${component}.${name}`).toMatch(/2026-27/);
        expect(year.description).toMatch(/next/);
      }
      const year = property('CreateClassBody', 'academicYear');
      const query = operation('/api/classes', 'get').parameters.find((p: any) => p.name === 'academicYear');
      expect(query.schema.pattern).toBe(year.pattern);
      for (let first = 1990; first <= 2110; first++)
        for (let yy = 0; yy < 100; yy++) {
          const value = `${first}-${String(yy).padStart(2, '0')}`;
          expect(matches(year, value), value).toBe(AcademicYear.safeParse(value).success);
        }
      expect(property('CreateFeePlanBody', 'academicYear').description).toMatch(/2026-27/);
    });

    it('e-mail addresses have format email and the pattern the server applies', () => {
      for (const [component, name] of [
        ['CreateUserBody', 'email'],
        ['CreateSchoolBody', 'contactEmail'],
        ['UpdateSchoolBody', 'contactEmail'],
      ]) {
        const email = property(component!, name!);
        expect(email.format, `${component}.${name}`).toBe('email');
        expect(email.maxLength).toBe(254);
        expect(matches(email, 'bursar@school.example')).toBe(true);
        // Valid under `format: email` alone, refused by the server: the pattern rules them out.
        expect(matches(email, '"quoted"@school.example')).toBe(false);
        expect(matches(email, 'bursar@[127.0.0.1]')).toBe(false);
      }
    });

    it('fee plans: shares adding to 100 described, classId xor studentIds as oneOf', () => {
      expect(property('CreateFeePlanBody', 'instalments').description).toMatch(/add up to exactly 100/);
      expect(property('CreateFeePlanBody', 'heads').description).toMatch(/unique/);
      expect(schemas().IssueFeePlanBody.oneOf).toEqual([
        { required: ['classId'] },
        { required: ['studentIds'] },
      ]);
      expect(schemas().IssueFeePlanBody.description).toMatch(/Exactly one of `classId`/);
    });

    it('every PATCH body needs at least one field', () => {
      const patches = Object.entries(doc.paths ?? {}).filter(([, item]) => (item as any)?.patch);
      expect(patches.length).toBeGreaterThanOrEqual(5);
      for (const [path, item] of patches) {
        const body = resolve((item as any).patch.requestBody?.content?.['application/json']?.schema);
        expect(body?.minProperties, `PATCH ${path}`).toBe(1);
      }
    });

    it('accepts bodies built from those constraints', async () => {
      const listed: string[] = schemas().CurrencyCode.enum;
      const create = property('CreateSchoolBody', 'contactPhone');
      const phone: string = create.examples[0];
      expect(matches(create, phone)).toBe(true);
      const locale = 'zh-Hant-TW';
      expect(matches(property('CreateSchoolBody', 'locale'), locale)).toBe(true);
      const schoolIds: string[] = [];
      // The first and last codes of the list, and one from its middle.
      for (const currency of [listed[0]!, listed[Math.floor(listed.length / 2)]!, listed.at(-1)!]) {
        const school = await api.request(api.admin, 'POST', '/api/schools', {
          body: {
            name: `OpenAPI ${currency}`,
            currency,
            timezone: property('CreateSchoolBody', 'timezone').examples[0],
            locale,
            contactEmail: 'bursar@school.example',
            contactPhone: phone,
          },
        });
        expect(school.status, JSON.stringify(school.body)).toBe(201);
        expect(school.body).toMatchObject({ currency, locale, contactPhone: phone });
        schoolIds.push(school.body.id);
      }
      const schoolId = schoolIds[0]!;

      const patch = await api.request(api.admin, 'PATCH', `/api/schools/${schoolId}`, { body: {} });
      expect(patch.status).toBe(422);

      const year = property('CreateClassBody', 'academicYear');
      for (const academicYear of ['2099-00', '2026-27']) {
        expect(matches(year, academicYear)).toBe(true);
        const made = await api.request(api.admin, 'POST', '/api/classes', {
          body: { name: `Grade 5 ${academicYear}`, grade: '5', academicYear, schoolId },
        });
        expect(made.status, JSON.stringify(made.body)).toBe(201);
      }
      expect(matches(year, '2026-28')).toBe(false);
      const refused = await api.request(api.admin, 'POST', '/api/classes', {
        body: { name: 'Grade 6', grade: '6', academicYear: '2026-28', schoolId },
      });
      expect(refused.status).toBe(422);

      const guardian = await api.request(api.admin, 'POST', '/api/guardians', {
        body: { name: 'Asha Rao', phone: property('CreateGuardianBody', 'phone').examples[0], schoolId },
      });
      expect(guardian.status, JSON.stringify(guardian.body)).toBe(201);

      const klass = await api.request(api.admin, 'POST', '/api/classes', {
        body: { name: 'Grade 7', grade: '7', academicYear: '2030-31', schoolId },
      });
      const student = await api.request(api.admin, 'POST', '/api/students', {
        body: { firstName: 'Ravi', lastName: 'Rao', admissionNo: 'OA-1', classId: klass.body.id, schoolId },
      });
      expect(student.status, JSON.stringify(student.body)).toBe(201);
      // Shares that add up to 100 to the hundredth, as the description says.
      const plan = await api.request(api.admin, 'POST', '/api/fee-plans', {
        body: {
          name: 'Thirds',
          academicYear: '2030-31',
          heads: [{ name: 'Tuition', amountMinor: 90_000 }],
          instalments: [
            { label: 'Term 1', dueDate, sharePercent: 33.33 },
            { label: 'Term 2', dueDate, sharePercent: 33.33 },
            { label: 'Term 3', dueDate, sharePercent: 33.34 },
          ],
          schoolId,
        },
      });
      expect(plan.status, JSON.stringify(plan.body)).toBe(201);
      const oneOf: { required: string[] }[] = schemas().IssueFeePlanBody.oneOf;
      const branches = (body: object) => oneOf.filter((b) => b.required.every((key) => key in body)).length;
      const issue = (body: object) =>
        api.request(api.admin, 'POST', `/api/fee-plans/${plan.body.id}/issue`, { body });
      for (const body of [{ classId: klass.body.id }, { studentIds: [student.body.id] }]) {
        expect(branches(body)).toBe(1);
        const issued = await issue(body);
        expect(issued.status, JSON.stringify(issued.body)).toBe(200);
      }
      for (const body of [{ classId: klass.body.id, studentIds: [student.body.id] }, {}]) {
        expect(branches(body)).not.toBe(1);
        expect((await issue(body)).status).toBe(422);
      }
    });
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
