import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';

/**
 * A feature router mounted without a path (`app.use(studentsRoutes(context))`)
 * is entered by every request that reaches it, and the router then tests each
 * of its route layers against the path: with every feature mounted that way, a
 * request walks every router in front of the one that answers it. `gated`
 * enters the router only when the request's path could match one of its
 * routes, and otherwise passes the request on at once.
 *
 * The gate is read off the router's own stack, at the first request (and again
 * whenever the stack has grown): for each route, the literal start of its path
 * before the first parameter, wildcard or other pattern character
 * (`/api/students/:id/statement` gives the prefix `/api/students/`), or the
 * whole path when it is all literal (`/api/me`, matched exactly, give or take
 * trailing slashes). Comparisons ignore ASCII case, as the router does by
 * default. The gate errs one way only: it may enter a router that then finds
 * nothing (a router made `strict` or `caseSensitive` is simply gated as if it
 * were not), never skip one that would have answered. A router it cannot read
 * is always entered: one with middleware (`router.use`), or with a route whose
 * path is not a string (a RegExp, an array).
 *
 * The returned function carries the router's `stack` (the same array) and
 * `listRoutes`, so whatever walks the app's router tree (the 405 `Allow`
 * lookup, the OpenAPI document, `Router#listRoutes`) sees the routes as if the
 * router were mounted itself.
 */
export function gated(router: Router): GatedRouter {
  const layers = (): readonly StackLayer[] => router.stack as readonly StackLayer[];
  let gate: Gate | undefined;
  let builtFor = -1;

  const enter = function gatedRouter(req: Request, res: Response, next: NextFunction): void {
    const stack = layers();
    if (gate === undefined || builtFor !== stack.length) {
      gate = gateOf(stack);
      builtFor = stack.length;
    }
    if (gate === ALWAYS || mayMatch(gate, req.path)) {
      router(req, res, next);
      return;
    }
    next();
  };

  Object.defineProperty(enter, 'stack', { enumerable: true, get: layers });
  const listRoutes = (router as unknown as { listRoutes?: () => unknown[] }).listRoutes;
  if (typeof listRoutes === 'function') {
    Object.defineProperty(enter, 'listRoutes', { value: () => listRoutes.call(router) });
  }
  return enter as GatedRouter;
}

/** A gated router: a middleware that still shows the router's stack to whatever walks the app. */
export type GatedRouter = RequestHandler & {
  /** The wrapped router's stack: the same array, so walkers see every route. */
  readonly stack: Router['stack'];
};

/** What the gate reads of a router layer; `route.path` is a string, a RegExp or an array at run time. */
interface StackLayer {
  route?: { path?: unknown };
}

interface Gate {
  /** Whole-literal route paths, lower case, without trailing slashes. */
  exact: Set<string>;
  /** Literal starts of the other route paths, lower case. */
  prefixes: string[];
}

/** The gate of a router that is always entered. */
const ALWAYS: Gate = { exact: new Set(), prefixes: [''] };

/**
 * Characters that are plain text to the router's path syntax (path-to-regexp
 * 8) and never need decoding to compare. Anything else (`:`, `*`, `{`, `(`,
 * `\`, `%`, a non-ASCII letter) ends the literal start, which only widens
 * what the gate lets in.
 */
const LITERAL_START = /^[A-Za-z0-9/._~-]*/;

function gateOf(stack: readonly StackLayer[]): Gate {
  const exact = new Set<string>();
  const prefixes = new Set<string>();
  for (const layer of stack) {
    const path = layer.route?.path;
    if (typeof path !== 'string') return ALWAYS;
    const literal = LITERAL_START.exec(path)![0].toLowerCase();
    if (literal.length === path.length) exact.add(withoutTrailingSlashes(literal));
    else if (literal === '') return ALWAYS;
    else prefixes.add(literal);
  }
  // A prefix another (shorter) prefix covers adds nothing, nor does an exact path a prefix covers.
  const kept = [...prefixes].filter(
    (prefix) => ![...prefixes].some((other) => other !== prefix && prefix.startsWith(other)),
  );
  for (const path of exact) if (kept.some((prefix) => path.startsWith(prefix))) exact.delete(path);
  return { exact, prefixes: kept };
}

function mayMatch(gate: Gate, path: string | undefined): boolean {
  // The router would answer a path it cannot parse with its own error; let it.
  if (typeof path !== 'string') return true;
  // toLowerCase may turn a non-ASCII character into ASCII (K, the Kelvin sign, into k): that
  // only lets more in. The router's case-insensitive match (a RegExp without the u flag)
  // never matches an ASCII letter with a non-ASCII one, so nothing it matches is kept out.
  const lower = path.toLowerCase();
  for (const prefix of gate.prefixes) if (lower.startsWith(prefix)) return true;
  return gate.exact.size > 0 && gate.exact.has(withoutTrailingSlashes(lower));
}

/** `/api/students/` and `/api/students` are one route to a non-strict router (`/` stays ``). */
function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end -= 1;
  return end === path.length ? path : path.slice(0, end);
}
