/**
 * The OpenAPI 3.1 document, built from the running express app rather than
 * written by hand: every route the router holds is listed, and each one is
 * described by the zod schemas its handlers carry (`route()` attaches its
 * params/query/body/headers/response and, for `route({ permission })`, the
 * bearer token and the permission; see `describeRoute` in platform). A
 * route that exists is documented even when it says nothing about itself, so
 * the document cannot miss one.
 */
import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  zodToOpenAPIRegistry,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import type { Application } from 'express';
import { z } from 'zod';
import * as contracts from '@bursar/contracts';
import { ERROR_STATUS, routeDocsOf, type RouteDocs } from '@bursar/platform';

/** One operation of the app: an HTTP method on an express path, with what its handlers say about it. */
export interface AppRoute {
  /** Lower case, as express keeps it (`get`, `post`). */
  method: string;
  /** The express path, `/api/invoices/:id`. */
  path: string;
  docs: RouteDocs;
}

/** The document's `info` block (title, version, description). */
export type DocumentInfo = Parameters<OpenApiGeneratorV31['generateDocument']>[0]['info'];

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** Only these become operations; express accepts more (`.all()`, WebDAV verbs) that OpenAPI cannot state. */
const METHODS = new Set<RouteConfig['method']>([
  'get',
  'post',
  'put',
  'patch',
  'delete',
  'head',
  'options',
  'trace',
]);

// The shapes of express 5's router (the `router` package, 2.3+) that the walk reads.
interface RouteLayer {
  method?: string;
  handle: unknown;
}
interface RouterLayer {
  rawPath?: string | RegExp | (string | RegExp)[];
  handle: { stack?: RouterLayer[] };
  route?: { path: string | RegExp; stack: RouteLayer[]; methods: Record<string, boolean | undefined> };
}

/**
 * Every operation the app answers, in registration order, the first of two
 * identical ones winning as it does in express. Middleware that carries docs
 * (`app.use(authenticate)` say) applies to the routes registered after it
 * under its path, as it does at run time.
 */
export function listAppRoutes(app: Application): AppRoute[] {
  const routes: AppRoute[] = [];
  const seen = new Set<string>();
  const middleware: { prefix: string; docs: RouteDocs }[] = [];

  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      const paths = layerPaths(layer).map((path) => joinPath(prefix, path));
      if (layer.route) {
        for (const path of paths) {
          const inherited = middleware
            .filter((entry) => covers(entry.prefix, path))
            .map((entry) => entry.docs);
          for (const method of Object.keys(layer.route.methods)) {
            if (method === '_all' || seen.has(`${method} ${path}`)) continue;
            seen.add(`${method} ${path}`);
            const own = layer.route.stack
              .filter((handler) => handler.method === undefined || handler.method === method)
              .map((handler) => routeDocsOf(handler.handle));
            routes.push({ method, path, docs: mergeDocs([...inherited, ...own]) });
          }
        }
      } else if (Array.isArray(layer.handle.stack)) {
        for (const path of paths) walk(layer.handle.stack, path);
      } else {
        const docs = routeDocsOf(layer.handle);
        if (docs) for (const path of paths) middleware.push({ prefix: path, docs });
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return routes;
}

function layerPaths(layer: RouterLayer): string[] {
  const raw = layer.rawPath;
  if (raw === undefined) {
    throw new Error('express router layers have no rawPath: the OpenAPI walk needs router 2.3 or later');
  }
  return (Array.isArray(raw) ? raw : [raw]).map((path) => {
    if (typeof path !== 'string')
      throw new Error(`Cannot document a route with a RegExp path (${String(path)})`);
    return path;
  });
}

function joinPath(prefix: string, path: string): string {
  const joined = `${prefix}/${path}`.replace(/\/{2,}/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** Whether middleware mounted at `prefix` runs for a route at `path` (a `:param` segment matches anything). */
function covers(prefix: string, path: string): boolean {
  const outer = prefix.split('/').filter(Boolean);
  const inner = path.split('/').filter(Boolean);
  if (outer.length > inner.length) return false;
  return outer.every((segment, i) => {
    const other = inner[i]!;
    return segment.startsWith(':') || other.startsWith(':') || segment.toLowerCase() === other.toLowerCase();
  });
}

/** Later handlers override earlier ones field by field; error codes add up. */
function mergeDocs(list: (RouteDocs | undefined)[]): RouteDocs {
  const merged: RouteDocs = {};
  const errors = new Set<contracts.ErrorCode>();
  for (const docs of list) {
    if (!docs) continue;
    for (const [key, value] of Object.entries(docs)) {
      if (value !== undefined && key !== 'errors') Object.assign(merged, { [key]: value });
    }
    for (const code of docs.errors ?? []) errors.add(code);
  }
  return { ...merged, errors: [...errors] };
}

/** `/api/invoices/:id` → `/api/invoices/{id}`; express 5 wildcards (`*rest`) become one parameter. */
export function toOpenApiPath(path: string): string {
  if (/[{}()\\]/.test(path))
    throw new Error(`Cannot document the express path ${path}: optional groups are not supported`);
  return path.replace(/[:*]([A-Za-z_$][\w$]*)/g, '{$1}');
}

function pathParamNames(path: string): string[] {
  return [...path.matchAll(/[:*]([A-Za-z_$][\w$]*)/g)].map((match) => match[1]!);
}

/** The object schema behind a params/query/headers schema (OpenAPI lists its keys as parameters). */
function objectOf(schema: z.ZodType | undefined, where: string): z.ZodObject | undefined {
  if (!schema) return undefined;
  if (schema instanceof z.ZodObject) return schema;
  if (schema instanceof z.ZodPipe && schema.in instanceof z.ZodObject) return schema.in;
  throw new Error(`The ${where} schema must be a zod object to be documented`);
}

/** Path params the schema leaves out are still in the path; OpenAPI requires each to be declared. */
function pathParams(schema: z.ZodType | undefined, names: string[], where: string): z.ZodObject | undefined {
  const object = objectOf(schema, where);
  const missing = names.filter((name) => !object?.shape[name]);
  if (!missing.length) return object;
  const extra = Object.fromEntries(missing.map((name) => [name, z.string()]));
  return object ? object.extend(extra) : z.object(extra);
}

/** Node lower-cases header names; documents show them as people write them (`Idempotency-Key`). */
function headerParams(schema: z.ZodType | undefined, where: string): z.ZodObject | undefined {
  const object = objectOf(schema, where);
  if (!object) return undefined;
  const shape = Object.entries(object.shape).map(([name, value]) => [
    name.replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase()),
    value,
  ]);
  return z.object(Object.fromEntries(shape) as z.ZodRawShape);
}

/**
 * Gives the contracts' object and enum schemas their export names as
 * components (`#/components/schemas/Invoice`), wherever they are nested, and
 * so too a string schema whose metadata lists an `enum` (`CurrencyCode`): a
 * generated client gets one named type and the document lists the values
 * once. The names live in zod-to-openapi's own metadata registry, so nothing
 * else sees them. A schema exported under two names (an alias) stays inline,
 * since either name would mislead on the other's routes.
 */
let contractsNamed = false;
function nameContractSchemas(): void {
  if (contractsNamed) return;
  contractsNamed = true;
  const names = new Map<z.ZodType, string[]>();
  for (const [name, value] of Object.entries(contracts)) {
    if (!(value instanceof z.ZodType)) continue;
    const listsValues = Array.isArray(value.meta()?.enum);
    if (!['object', 'enum'].includes(value.def.type) && !listsValues) continue;
    names.set(value, [...(names.get(value) ?? []), name]);
  }
  for (const [schema, [name, ...aliases]] of names) {
    if (aliases.length || zodToOpenAPIRegistry.has(schema) || schema.meta()?.id) continue;
    zodToOpenAPIRegistry.add(schema, { _internal: { refId: name } });
  }
}

const PROBLEM_CONTENT = { [contracts.PROBLEM_CONTENT_TYPE]: { schema: contracts.Problem } };

function errorResponses(codes: Iterable<contracts.ErrorCode>): Record<string, ResponseConfig> {
  const byStatus = new Map<number, contracts.ErrorCode[]>();
  for (const code of codes) {
    const { status } = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        String(status),
        {
          description: list.map((code) => `${ERROR_STATUS[code].title} (\`${code}\`)`).join('; '),
          content: PROBLEM_CONTENT,
        },
      ]),
  );
}

function registerOperation(registry: OpenAPIRegistry, { method, path, docs }: AppRoute): void {
  const names = pathParamNames(path);
  const where = `${method.toUpperCase()} ${path}`;
  const errors = new Set(docs.errors);
  if (docs.params || docs.query || docs.body || docs.headers) errors.add('validation_failed');
  if (names.length) errors.add('not_found');

  const status = docs.status ?? 200;
  const success: ResponseConfig =
    status === 204
      ? { description: 'No content' }
      : {
          description: docs.response ? 'Success' : 'Success (the body is not described yet)',
          content: { [docs.responseType ?? 'application/json']: { schema: docs.response ?? {} } },
        };
  const params = pathParams(docs.params, names, `params of ${where}`);
  const query = objectOf(docs.query, `query of ${where}`);
  const headers = headerParams(docs.headers, `headers of ${where}`);

  registry.registerPath({
    method: method as RouteConfig['method'],
    path: toOpenApiPath(path),
    tags: docs.tags ?? [path.split('/').filter(Boolean)[1] ?? 'root'],
    ...(docs.summary ? { summary: docs.summary } : {}),
    ...(docs.description ? { description: docs.description } : {}),
    ...(docs.bearerAuth ? { security: [{ bearerAuth: [] }] } : {}),
    ...(docs.permission ? { 'x-permission': docs.permission } : {}),
    request: {
      ...(params ? { params } : {}),
      ...(query ? { query } : {}),
      ...(headers ? { headers } : {}),
      ...(docs.body
        ? { body: { required: true, content: { 'application/json': { schema: docs.body } } } }
        : {}),
    },
    responses: {
      [String(status)]: success,
      ...errorResponses(errors),
      default: { description: 'Any other failure, as RFC 9457 problem details', content: PROBLEM_CONTENT },
    },
  });
}

/** Builds the OpenAPI 3.1 document for the routes under `pathPrefix` (the service's public surface). */
export function buildOpenApiDocument(
  app: Application,
  info: DocumentInfo,
  pathPrefix = '/api',
): OpenApiDocument {
  nameContractSchemas();
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from `POST /api/auth/login` (or `/api/auth/refresh`).',
  });
  for (const route of listAppRoutes(app)) {
    if (!covers(pathPrefix, route.path) || !METHODS.has(route.method as RouteConfig['method'])) continue;
    registerOperation(registry, route);
  }
  const document = new OpenApiGeneratorV31(registry.definitions, {
    sortComponents: 'alphabetically',
  }).generateDocument({
    openapi: '3.1.0',
    info,
  });
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const parameter of (operation as { parameters?: { schema?: SchemaLike }[] }).parameters ?? []) {
        if (parameter.schema) parameter.schema = withoutNull(parameter.schema);
      }
    }
  }
  return document;
}

type SchemaLike = {
  type?: string | string[];
  oneOf?: SchemaLike[];
  anyOf?: SchemaLike[];
  [key: string]: unknown;
};

/**
 * zod-to-openapi calls a schema nullable when it accepts `null`, and a
 * coerced number does (`Number(null)` is 0), so `?offset=` came out as
 * `integer | null`. A path, query or header value is always a string; it is never null.
 */
function withoutNull(schema: SchemaLike): SchemaLike {
  const { type, oneOf, anyOf, ...rest } = schema;
  const isNull = (option: SchemaLike) => option.type === 'null';
  if (Array.isArray(type)) {
    const types = type.filter((name) => name !== 'null');
    return {
      ...rest,
      ...(types.length ? { type: types.length === 1 ? types[0] : types } : {}),
      ...(oneOf ? { oneOf } : {}),
      ...(anyOf ? { anyOf } : {}),
    };
  }
  for (const [key, options] of [
    ['oneOf', oneOf],
    ['anyOf', anyOf],
  ] as const) {
    if (options?.some(isNull)) {
      const kept = options.filter((option) => !isNull(option));
      return kept.length === 1 ? { ...rest, ...kept[0] } : { ...schema, [key]: kept };
    }
  }
  return schema;
}
