import express, { Router, type Express, type RequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import { startApp } from '@bursar/test-support';
import { createHttpApp } from './http-app.js';
import { createLogger } from './logger.js';
import { gated } from './router-gate.js';

const logger = createLogger('test', 'silent');

const answer =
  (name: string): RequestHandler =>
  (req, res) => {
    res.json({ router: name, path: req.path, params: req.params });
  };

function studentsRouter(): Router {
  const router = Router();
  router.get('/api/students', answer('students'));
  router.get('/api/students/:id', answer('students'));
  router.get('/api/students/:id/statement', answer('statements'));
  router.post('/api/students/:id/notes', answer('notes'));
  return router;
}

function meRouter(): Router {
  const router = Router();
  router.get('/api/me', answer('me'));
  return router;
}

/** Wraps each router so the test sees which ones a request entered. */
function spy(name: string, router: Router, entered: string[]): Router {
  const inner = router as unknown as { handle: RequestHandler };
  const original = inner.handle.bind(router);
  inner.handle = (req, res, next) => {
    entered.push(name);
    return original(req, res, next);
  };
  return router;
}

function app(entered: string[], extra?: (app: Express) => void): Express {
  return createHttpApp({
    service: 'test',
    basePath: '/api',
    logger,
    config: { BODY_LIMIT_BYTES: 1_048_576, TRUST_PROXY: 'loopback' },
    readiness: {},
    routes: (app) => {
      app.use(gated(spy('me', meRouter(), entered)));
      app.use(gated(spy('students', studentsRouter(), entered)));
      extra?.(app);
      app.get('/api/later', answer('later'));
    },
  });
}

describe('gated', async () => {
  const entered: string[] = [];
  const { url } = await startApp(app(entered));

  const get = async (path: string, init?: RequestInit) => {
    entered.length = 0;
    const response = await fetch(`${url}${path}`, init);
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, body, entered: [...entered], allow: response.headers.get('allow') };
  };

  it('enters the router for a route with params, and only that router', async () => {
    const result = await get('/api/students/s-1/statement');
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ router: 'statements', params: { id: 's-1' } });
    expect(result.entered).toEqual(['students']);
  });

  it('enters a router with an exact route only for that path', async () => {
    const me = await get('/api/me');
    expect(me.body).toMatchObject({ router: 'me' });
    expect(me.entered).toEqual(['me']);
    expect((await get('/api/me/else')).entered).toEqual([]);
    expect((await get('/api/mex')).entered).toEqual([]);
  });

  it('keeps the non-strict trailing slash of literal routes', async () => {
    const slash = await get('/api/students/');
    expect(slash.status).toBe(200);
    expect(slash.body).toMatchObject({ router: 'students' });
    expect(slash.entered).toEqual(['students']);
    const me = await get('/api/me/');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ router: 'me' });
  });

  it('matches paths case-insensitively, as the router does', async () => {
    const upper = await get('/API/Students/s-2/STATEMENT');
    expect(upper.status).toBe(200);
    expect(upper.body).toMatchObject({ router: 'statements', params: { id: 's-2' } });
    expect((await get('/API/ME')).body).toMatchObject({ router: 'me' });
  });

  it('lets later routes and the 404 answer when a router is skipped', async () => {
    const later = await get('/api/later');
    expect(later.status).toBe(200);
    expect(later.body).toMatchObject({ router: 'later' });
    expect(later.entered).toEqual([]);

    const missing = await get('/api/nothing/here');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'not_found' });
    expect(missing.entered).toEqual([]);
  });

  it('still answers 405 with Allow for a gated route and the wrong method', async () => {
    const wrong = await get('/api/students/s-1/statement', { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.allow).toBe('GET, HEAD');
    const notes = await get('/api/students/s-1/notes');
    expect(notes.status).toBe(405);
    expect(notes.allow).toBe('POST');
  });

  it('answers OPTIONS from the gated router as the router itself would', async () => {
    entered.length = 0;
    const response = await fetch(`${url}/api/students/s-1`, { method: 'OPTIONS' });
    expect(response.status).toBe(200);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('always enters a router that has middleware of its own', async () => {
    const seen: string[] = [];
    const router = Router();
    router.use((req, _res, next) => {
      seen.push(req.path);
      next();
    });
    router.get('/api/things/:id', answer('things'));
    const { url: other } = await startApp(
      createHttpApp({
        service: 'test',
        basePath: '/api',
        logger,
        config: { BODY_LIMIT_BYTES: 1_048_576, TRUST_PROXY: 'loopback' },
        readiness: {},
        routes: (app) => app.use(gated(router)),
      }),
    );
    expect((await fetch(`${other}/api/elsewhere`)).status).toBe(404);
    expect((await fetch(`${other}/api/things/1`)).status).toBe(200);
    expect(seen).toEqual(['/api/elsewhere', '/api/things/1']);
  });

  it('always enters a router with a RegExp or array route path', async () => {
    const regexp = Router();
    regexp.get(/^\/odd\/\d+$/, answer('regexp'));
    const list = Router();
    list.get(['/one', '/two'], answer('list'));
    const plain = express();
    plain.use(gated(regexp));
    plain.use(gated(list));
    const { url: other } = await startApp(plain);
    expect(await (await fetch(`${other}/odd/12`)).json()).toMatchObject({ router: 'regexp' });
    expect(await (await fetch(`${other}/TWO/`)).json()).toMatchObject({ router: 'list' });
  });

  it('sees routes added after the first request', async () => {
    const router = Router();
    router.get('/early', answer('early'));
    const plain = express();
    plain.use(gated(router));
    const { url: other } = await startApp(plain);
    expect((await fetch(`${other}/early`)).status).toBe(200);
    expect((await fetch(`${other}/late/1`)).status).toBe(404);
    router.get('/late/:id', answer('late'));
    expect(await (await fetch(`${other}/late/1`)).json()).toMatchObject({ router: 'late' });
  });

  it('shows the router its stack and routes to whatever walks the app', () => {
    const router = studentsRouter();
    const gate = gated(router);
    expect(gate.stack).toBe(router.stack);
    const listed = (gate as unknown as { listRoutes(): { path: string }[] }).listRoutes();
    expect(listed.map((entry) => entry.path)).toEqual([
      '/api/students',
      '/api/students/:id',
      '/api/students/:id/statement',
      '/api/students/:id/notes',
    ]);
    const plain = express();
    plain.use(gate);
    const top = (
      plain as unknown as { router: { listRoutes(): { router?: unknown }[] } }
    ).router.listRoutes();
    expect(top.some((entry) => entry.router === gate)).toBe(true);
  });
});
