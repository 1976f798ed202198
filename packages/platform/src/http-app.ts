import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { context } from '@opentelemetry/api';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from 'express';
import { AppError, HealthResponse, PROBLEM_CONTENT_TYPE, ReadinessResponse } from '@bursar/contracts';
import { statusOf, toProblem } from './errors.js';
import type { Authenticator } from './auth.js';
import type { BaseConfig } from './config.js';
import type { Logger } from './logger.js';
import { metricsHandler, recordHttp } from './metrics.js';
import { runChecks, type ReadinessChecks } from './readiness.js';
import { maskedPath, routeOf, urlPath } from './request-path.js';
import { endServerSpan, startServerSpan } from './server-span.js';
import { describeRoute } from './route.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  /** The path prefix Caddy routes to this service (`/api`); health answers there and at the root. */
  basePath: string;
  readiness: ReadinessChecks;
  /** The process's config: body limit, which proxy to trust, the metrics token. */
  config: Pick<BaseConfig, 'BODY_LIMIT_BYTES' | 'TRUST_PROXY' | 'METRICS_TOKEN'>;
  /** Mounts the service's routes; runs after the common middleware, before the 404 and error handlers. */
  routes: (app: Express) => void;
  /** Routes that need the raw body (webhooks) are mounted before the JSON parser. */
  rawRoutes?: (app: Express) => void;
  /** Verifies callers of guarded routes (`route({ permission })`); services without them pass none. */
  authenticator?: Authenticator;
}

declare module 'http' {
  interface IncomingMessage {
    /** Set by the request-id middleware: accepted from `X-Request-Id` or generated. */
    requestId: string;
    /** The request's logger (the service's, with `request_id`), made the first time a handler asks. */
    log: Logger;
  }
}

/** Where a request keeps the child logger `req.log` made for it. */
const REQUEST_LOGGER = Symbol('bursar.request-logger');

/**
 * `req.log`: the service's logger with the request's `request_id`, made the
 * first time a handler asks. A getter on the app's request prototype, so a
 * request that never logs costs nothing for it.
 */
function installRequestLogger(app: Express, logger: Logger): void {
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request & { [REQUEST_LOGGER]?: Logger }) {
      return (this[REQUEST_LOGGER] ??= logger.child({ request_id: this.requestId }));
    },
  });
}

/** The part of an express app the request observer wraps: what the HTTP server calls for every request. */
type AppHandle = (req: Request, res: express.Response, callback?: (error?: unknown) => void) => void;

/**
 * What every request gets, before the router sees it and with one `close`
 * listener: its request id (`X-Request-Id` accepted when well formed, else a
 * new one, echoed back), its server span, its duration in the HTTP
 * histogram, and one JSON log line when it is done. It wraps the app's
 * `handle` (what the HTTP server calls) rather than being the router's first
 * layer, so no request pays a layer's match and dispatch for it.
 *
 * The span (`server-span.ts`): one `SERVER` span per request, continuing the
 * caller's trace, its handlers run inside it, and named `GET /api/me` by the
 * route template when the response is done. That is the one span a request
 * gets from the web layer (no express instrumentation, whose span per layer
 * cost more than it told; and not the http instrumentation's server half).
 *
 * The line: `request_id`, `req` (method and path, never the query, a token in
 * the path masked), `res` (status) and `responseTime` in ms, at `info`,
 * `warn` for 4xx (and a `/readyz` 503) and `error` for 5xx (the error
 * handler logs the error itself); `request aborted` when the client went
 * away first. Its fields are this function's own, none from the client but
 * the method and the masked path, so it is written by a child without the
 * redaction every other line pays for.
 */
function observeRequests(app: Express, service: string, logger: Logger): void {
  const lines = logger.child({}, { redact: [] });
  const routed = app as Express & { handle: AppHandle };
  const handle = routed.handle;
  routed.handle = function observed(this: unknown, req, res, callback) {
    // Mounted inside another app built here: the outer one observes the request already.
    if (req.requestId) return handle.call(this, req, res, callback);
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    // The router has not set originalUrl yet when this app is the server's own.
    const target = urlPath(req.originalUrl ?? req.url);
    const server = startServerSpan(req, target);
    // `on`, not `once`: a response closes once, and once's wrapper is an allocation per request.
    res.on('close', () => {
      const status = res.statusCode;
      const finished = res.writableFinished;
      const route = routeOf(req);
      const path = maskedPath(req, target);
      const elapsed = performance.now() - started;
      recordHttp(service, req.method, route, status, elapsed / 1000);
      const level =
        !finished || (status === 503 && target.endsWith('/readyz'))
          ? 'warn'
          : status >= 500
            ? 'error'
            : status >= 400
              ? 'warn'
              : 'info';
      const line = {
        request_id: requestId,
        req: { method: req.method, url: path },
        res: { statusCode: status },
        responseTime: Math.round(elapsed),
      };
      const message = finished ? 'request completed' : 'request aborted';
      // In the request's context, so the line carries its trace and span ids (the pino
      // instrumentation). No named closure here: tsx's keepNames would name it on every request.
      if (server) context.with(server.context, lines[level], lines, line, message);
      else lines[level](line, message);
      if (server) endServerSpan(server, res, route === 'unmatched' ? undefined : route, path);
    });
    if (server) context.with(server.context, handle, this, req, res, callback);
    else handle.call(this, req, res, callback);
  };
}

/** Sends an error as RFC 9457 problem+json. */
export function sendProblem(res: express.Response, error: AppError): void {
  const req = res.req;
  for (const [name, value] of Object.entries(error.options.headers ?? {})) res.setHeader(name, value);
  res
    .status(statusOf(error))
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(toProblem(error, req.originalUrl, req.requestId)));
}

/**
 * The express app every HTTP service is built on: request ids, structured
 * request logs, a JSON body limit, health and readiness, metrics, and
 * problem+json for every failure (404 routes and malformed JSON included).
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { service, logger, basePath } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Only the proxy actually in front may say who the client is: a direct caller
  // that sends X-Forwarded-For must not choose the address the login limiter counts.
  app.set('trust proxy', options.config.TRUST_PROXY);
  if (options.authenticator) app.locals.authenticator = options.authenticator;
  app.set('query parser', 'extended');

  installRequestLogger(app, logger);
  observeRequests(app, service, logger);

  const health: RequestHandler = (_req, res) => {
    const body: HealthResponse = { status: 'ok', service, uptimeSeconds: Math.round(process.uptime()) };
    res.json(body);
  };
  const ready: RequestHandler = async (_req, res) => {
    const body: ReadinessResponse = await runChecks(service, options.readiness);
    res.status(body.status === 'ready' ? 200 : 503).json(body);
  };
  describeRoute(health, { response: HealthResponse, summary: 'The process is alive', tags: ['health'] });
  describeRoute(ready, {
    response: ReadinessResponse,
    summary: 'Every dependency answers (503 with the same body when one does not)',
    tags: ['health'],
  });
  for (const prefix of new Set(['', basePath])) {
    app.get(`${prefix}/healthz`, health);
    app.get(`${prefix}/readyz`, ready);
  }
  app.get('/metrics', metricsGuard(options.config.METRICS_TOKEN), metricsHandler);

  options.rawRoutes?.(app);
  // Not strict: a body that is a bare JSON value ("AAA") is valid JSON, and the
  // route answers 422 "must be an object" instead of 400 "not valid JSON".
  const json = express.json({
    limit: options.config.BODY_LIMIT_BYTES,
    strict: false,
    type: ['application/json', '+json'],
  });
  // A request without a body (most GETs) skips the parser: it would only find there is none.
  app.use((req, res, next) => {
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
      req.body = undefined;
      return next();
    }
    json(req, res, next);
  });
  options.routes(app);

  app.use((req, res) => {
    const allowed = allowedMethods(app, req.path);
    if (allowed.length) {
      res.setHeader('Allow', allowed.join(', '));
      return sendProblem(
        res,
        new AppError('method_not_allowed', `${req.method} is not allowed here; use ${allowed.join(', ')}`),
      );
    }
    sendProblem(res, new AppError('not_found', `No route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

interface RouterLayer {
  match(path: string): boolean;
  route?: { methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

/**
 * The methods some route answers at `path`, for a 405 with `Allow` instead of
 * a 404 when only the method is wrong. Runs only for requests nothing
 * handled, so the walk over the router never costs a routed request.
 */
function allowedMethods(app: Express, path: string): string[] {
  const methods = new Set<string>();
  const walk = (stack: RouterLayer[] | undefined, depth: number) => {
    for (const layer of stack ?? []) {
      if (depth > 8 || !layer.match(path)) continue;
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') methods.add(method.toUpperCase());
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack, depth + 1);
    }
  };
  walk((app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack, 0);
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** True when the request came through a proxy (Caddy always adds these). */
function viaProxy(req: Request): boolean {
  return (
    req.headers['x-forwarded-for'] !== undefined ||
    req.headers.forwarded !== undefined ||
    req.headers['x-forwarded-host'] !== undefined
  );
}

/**
 * `/metrics` is for the private network. With a token it needs
 * `Authorization: Bearer <token>` (compared in constant time); without one it
 * answers only callers that did not come through a proxy, so it is never
 * public through Caddy. Anyone else gets the 404 every unknown path gets.
 */
export function metricsGuard(token: string | undefined): RequestHandler {
  const expected = token ? digest(`Bearer ${token}`) : undefined;
  return (req, res, next) => {
    const allowed = expected
      ? timingSafeEqual(digest(req.headers.authorization ?? ''), expected)
      : !viaProxy(req);
    if (allowed) return next();
    sendProblem(res, new AppError('not_found', `No route for ${req.method} ${req.path}`));
  };
}

function isClientParserError(error: unknown): boolean {
  const { status, expose } = (error ?? {}) as BodyParserError;
  return expose === true && typeof status === 'number' && status >= 400 && status < 500;
}

/** Turns anything thrown into problem+json; only unexpected errors are 500, and their details stay in the log. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const parserType = (error as BodyParserError | null)?.type;
    let appError: AppError;
    if (error instanceof AppError) appError = error;
    else if (parserType === 'entity.too.large')
      appError = new AppError('payload_too_large', 'The request body is larger than this endpoint accepts');
    else if (parserType === 'entity.parse.failed')
      appError = new AppError('malformed_json', 'The request body is not valid JSON');
    else if (parserType === 'encoding.unsupported' || parserType === 'charset.unsupported')
      appError = new AppError('unsupported_media_type', 'The request body encoding is not supported');
    else if (parserType === 'request.aborted')
      appError = new AppError('malformed_json', 'The request was aborted');
    // A body that cannot be decoded (Content-Encoding: gzip over bytes that are not gzip): the
    // parser's 4xx carries no type, and it is the client's fault, never a 500.
    else if (isClientParserError(error))
      appError =
        (error as BodyParserError).status === 413
          ? new AppError('payload_too_large', 'The request body is larger than this endpoint accepts')
          : (error as BodyParserError).status === 415
            ? new AppError('unsupported_media_type', 'The request body encoding is not supported')
            : new AppError(
                'malformed_json',
                'The request body could not be read as sent (check Content-Encoding)',
              );
    // The router cannot percent-decode a path parameter (`/api/invoices/%E0%A4%A`): a malformed id, so 422.
    else if (error instanceof URIError)
      appError = new AppError('validation_failed', 'The request path is not valid percent-encoding', {
        errors: [{ path: 'params', message: 'not valid percent-encoding' }],
      });
    else {
      (req.log ?? logger).error({ err: error, request_id: req.requestId }, 'unhandled error');
      appError = new AppError('internal_error', `Something went wrong; quote request id ${req.requestId}`);
    }
    sendProblem(res, appError);
  };
}
