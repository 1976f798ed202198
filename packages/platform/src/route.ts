import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError, type ErrorCode, type ProblemFieldError } from '@bursar/contracts';
import type { Actor } from './audit.js';
import type { Authenticator, Caller } from './auth.js';
import { can, type Permission } from './permissions.js';

type Schema = z.ZodType | undefined;
type Out<S extends Schema> = S extends z.ZodType ? z.infer<S> : undefined;
/**
 * A success body that is already JSON text (built by PostgreSQL, say): the
 * route sends it as it is, with `Content-Type: application/json`, instead of
 * serializing a value. Whoever builds it answers for it matching the route's
 * `response` schema.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** What a handler may return: anything, or with a `response` schema that body (or nothing, when it answers itself). */
type Reply<R extends Schema> = R extends z.ZodType ? z.infer<R> | JsonText | void : unknown;

/**
 * What the OpenAPI generator reads from a handler (see `describeRoute`). Every
 * handler in a route's chain may carry some of it: `route()` the inputs and
 * the answer, `authenticate` the bearer token, a permission guard its
 * permission; the generator merges them in order. Nothing here changes how a
 * request is handled.
 */
export interface RouteDocs {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  headers?: z.ZodType;
  /** Status of a successful answer (default 200). */
  status?: number;
  /** Schema of the success body. */
  response?: z.ZodType;
  /** Media type of the success body when it is not `application/json`. */
  responseType?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  /** Error codes the route can answer beyond those the generator infers from the inputs and guards. */
  errors?: readonly ErrorCode[];
  /** The route needs `Authorization: Bearer <access token>`. */
  bearerAuth?: boolean;
  /** The permission the caller's role must hold. */
  permission?: string;
}

/** Where a handler's `RouteDocs` live: a non-enumerable property, so express and logs never see it. */
export const ROUTE_DOCS: unique symbol = Symbol.for('bursar.route-docs');

/** Attaches documentation to a handler (or a middleware) and returns the same function. */
export function describeRoute<F extends object>(handler: F, docs: RouteDocs): F {
  Object.defineProperty(handler, ROUTE_DOCS, { value: Object.freeze({ ...docs }), enumerable: false });
  return handler;
}

/** The documentation attached to a handler by `describeRoute`, if any. */
export function routeDocsOf(handler: unknown): RouteDocs | undefined {
  if (typeof handler !== 'function') return undefined;
  return (handler as { [ROUTE_DOCS]?: RouteDocs })[ROUTE_DOCS];
}

/** What a route requires of its caller: a permission, or only a valid token (`'authenticated'`). */
export type Access = Permission | 'authenticated' | undefined;

export interface RouteSchemas<
  P extends Schema,
  Q extends Schema,
  B extends Schema,
  H extends Schema,
  R extends Schema = undefined,
  A extends Access = undefined,
> extends Pick<RouteDocs, 'summary' | 'description' | 'tags' | 'errors' | 'responseType'> {
  /**
   * The permission the caller's role must hold (403 otherwise), or
   * `'authenticated'` for any logged-in user; absent on public routes. The
   * handler then receives the typed `caller` and audit `actor`.
   */
  permission?: A;
  params?: P;
  query?: Q;
  body?: B;
  headers?: H;
  /** Status of a successful answer (default 200; 204 sends no body). */
  status?: number;
  /** Schema of the success body, for the OpenAPI document; types what the handler returns (not parsed at run time). */
  response?: R;
}

export interface RouteInput<P extends Schema, Q extends Schema, B extends Schema, H extends Schema> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  headers: Out<H>;
  req: Request;
  res: Response;
}

/** What a guarded route's handler also receives: who is calling, and how the audit trail names them. */
export interface AuthenticatedInput {
  caller: Caller;
  actor: Actor;
}

type HandlerInput<
  P extends Schema,
  Q extends Schema,
  B extends Schema,
  H extends Schema,
  A extends Access,
> = RouteInput<P, Q, B, H> & (A extends undefined ? unknown : AuthenticatedInput);

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- express types app.locals through this global namespace
  namespace Express {
    interface Locals {
      /** Set by `createHttpApp({ authenticator })`; guarded routes use it. */
      authenticator?: Authenticator;
    }
  }
}

/** The caller of a guarded route: authenticated, then checked against the permission. */
function authorize(req: Request, access: Exclude<Access, undefined>): Caller | Promise<Caller> {
  const authenticator = req.app.locals.authenticator;
  if (!authenticator) throw new Error('a guarded route runs in an app built without an authenticator');
  const caller = authenticator.authenticate(req);
  return caller instanceof Promise
    ? caller.then((known) => permitted(known, access))
    : permitted(caller, access);
}

function permitted(caller: Caller, access: Exclude<Access, undefined>): Caller {
  if (access !== 'authenticated' && !can(caller.role, access)) {
    throw new AppError('forbidden', `The ${caller.role} role may not ${access.replace(':', ' ')}`);
  }
  return caller;
}

function issuesOf(location: string, error: z.ZodError): ProblemFieldError[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? (issue as { keys?: string[] }).keys : undefined;
    const path = [location, ...issue.path.map(String)].join('.');
    return {
      path: keys?.length ? `${path}.${keys.join(',')}` : path,
      message: issue.message,
      code: issue.code,
    };
  });
}

/** Turns a zod failure into the 422 problem the API answers (one entry per field path). */
export function validationError(location: string, error: z.ZodError): AppError {
  return new AppError('validation_failed', 'The request is not valid; see errors for each field', {
    errors: issuesOf(location, error),
  });
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The path of the first string holding U+0000, which no text column can store
 * (PostgreSQL refuses it); such input is a 422 for every route, not a 500.
 */
function findNul(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (depth > 20 || value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = findNul(item, `${path}.${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** One input of a request parsed by its schema; what is wrong goes into `errors`. */
function parseInput(errors: ProblemFieldError[], location: string, schema: Schema, value: unknown): unknown {
  if (!schema) return undefined;
  const nul = findNul(value, location);
  if (nul) {
    errors.push({ path: nul, message: 'must not contain the NUL character', code: 'invalid_string' });
    return undefined;
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  errors.push(...issuesOf(location, result.error));
  return undefined;
}

/**
 * One helper for every route: authenticates and checks the permission when the
 * route names one (401 before 403, both before validation, so an anonymous
 * caller learns nothing about the input), parses params, query, body and
 * headers with the contracts' zod schemas (all failures reported together as
 * 422) and hands the handler typed values plus the caller and audit actor.
 * What the handler returns is sent as JSON. The schemas stay on the returned
 * handler (`routeDocsOf`), so the OpenAPI document is built from the same
 * objects that validate requests.
 */
export function route<
  P extends Schema = undefined,
  Q extends Schema = undefined,
  B extends Schema = undefined,
  H extends Schema = undefined,
  R extends Schema = undefined,
  A extends Access = undefined,
>(
  schemas: RouteSchemas<P, Q, B, H, R, A>,
  handler: (input: HandlerInput<P, Q, B, H, A>) => Promise<Reply<R>> | Reply<R>,
): RequestHandler {
  const access = schemas.permission;
  const handle = async (req: Request, res: Response, next: NextFunction) => {
    try {
      // Most callers are answered from the caches at once: no promise to wait for then.
      const authorized = access ? authorize(req, access) : undefined;
      const caller = authorized instanceof Promise ? await authorized : authorized;
      if (schemas.body && req.body === undefined && (req.headers['content-length'] ?? '0') !== '0') {
        throw new AppError('unsupported_media_type', 'Send the body as application/json');
      }
      const errors: ProblemFieldError[] = [];
      if (schemas.body && req.body !== undefined && !isPlainObject(req.body)) {
        throw new AppError('validation_failed', 'The request is not valid; see errors for each field', {
          errors: [{ path: 'body', message: 'the body must be a JSON object', code: 'invalid_type' }],
        });
      }
      const input = {
        params: parseInput(errors, 'params', schemas.params, req.params),
        query: parseInput(errors, 'query', schemas.query, req.query),
        body: parseInput(errors, 'body', schemas.body, req.body ?? {}),
        headers: parseInput(errors, 'headers', schemas.headers, req.headers),
        req,
        res,
        ...(caller ? { caller, actor: { caller, requestId: req.requestId } } : {}),
      } as HandlerInput<P, Q, B, H, A>;
      if (errors.length) {
        throw new AppError('validation_failed', 'The request is not valid; see errors for each field', {
          errors,
        });
      }
      const returned = handler(input);
      const result = returned instanceof Promise ? await returned : returned;
      if (res.headersSent) return;
      const status = schemas.status ?? 200;
      if (status === 204 || result === undefined) res.status(status === 200 ? 204 : status).end();
      else if (result instanceof JsonText) res.status(status).type('application/json').send(result.text);
      else res.status(status).json(result);
    } catch (error) {
      next(error);
    }
  };
  const { permission: _permission, ...docs } = schemas;
  const guard: RouteDocs = access
    ? {
        bearerAuth: true,
        ...(access === 'authenticated' ? {} : { permission: access }),
        errors: [
          'unauthenticated',
          ...(access === 'authenticated' ? [] : (['forbidden'] as const)),
          ...(schemas.errors ?? []),
        ],
      }
    : {};
  return describeRoute(handle, { ...docs, ...guard });
}
