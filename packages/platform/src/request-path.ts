import type { Request } from 'express';

/** The matched route's template (`/api/students/:id`), or `unmatched`: what metrics and spans are labelled by. */
export function routeOf(req: Request): string {
  return req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
}

/** A request target without its query (`/api/me?x=1` → `/api/me`), without splitting it into an array. */
export function urlPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Route parameters that are capabilities (a pay link's or a document's token): never logged or traced. */
const SECRET_PARAMS = new Set([':token']);

/**
 * The request's path without its query, with every secret parameter of the
 * matched route replaced by its name (`/api/pay/i/:token`): what the request
 * log and the server span show. Segments are paired from the end, because by
 * the time an error answers, express has already restored `req.params` and
 * `req.baseUrl`, but the path and the route's template still line up there.
 */
export function maskedPath(req: Request, path = urlPath(req.originalUrl ?? req.url ?? '')): string {
  const template: unknown = req.route?.path;
  if (typeof template !== 'string' || !template.includes('/:')) return path;
  const wanted = template.split('/');
  const segments = path.split('/');
  let masked = false;
  for (let back = 1; back <= wanted.length && back <= segments.length; back += 1) {
    const name = wanted[wanted.length - back]!;
    if (SECRET_PARAMS.has(name)) {
      segments[segments.length - back] = name;
      masked = true;
    }
  }
  return masked ? segments.join('/') : path;
}
