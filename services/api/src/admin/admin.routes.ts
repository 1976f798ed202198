import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { decodeJwt } from 'jose';
import { AppError, LoginBody, type Role } from '@bursar/contracts';
import { sendProblem, statusOf } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { findUserById } from '../auth/auth.repository.js';
import { logIn, logOut } from '../auth/auth.service.js';
import { BOARD_PATH, createAdminBoards, type AdminBoards } from './admin-board.js';
import { loginPage } from './admin-page.js';
import {
  ADMIN_SESSION_COOKIE,
  ADMIN_SESSION_TTL_SECONDS,
  createAdminSessions,
  type AdminSession,
  type AdminSessions,
} from './admin-session.js';

/** Who may open the dashboard: platform admins act on jobs, school admins only look. */
export const DASHBOARD_ROLES: readonly Role[] = ['platform_admin', 'school_admin'];

const LOGIN_PATH = '/admin/login';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const GENERIC_FAILURE = 'The email or password is not correct.';

/** The admin app's parts, for tests and for shutdown. */
export interface AdminApp {
  /** Mount with `app.use(admin.app)`: an express app, so the boards inside it mount as sub-apps do. */
  app: Express;
  sessions: AdminSessions;
  boards: AdminBoards;
}

function sessionIdOf(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === ADMIN_SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/**
 * Cross-site request forgery: a state-changing request must say it comes from
 * a page of Bursar's own, by `Origin` (every browser sends it on a POST/PUT
 * form or fetch) or, failing that, `Referer`. Bursar's origins are
 * `PUBLIC_URL`'s and the one the request was addressed to (Caddy passes the
 * client's `Host` on; a direct caller, as in tests, names the api's).
 * SameSite=Strict already keeps the cookie off cross-site requests; this
 * holds even for a browser that ignores SameSite, and covers the login form.
 */
function sameOriginGuard(publicUrl: string): RequestHandler {
  const publicOrigin = new URL(publicUrl).origin;
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const claimed = req.get('origin') ?? req.get('referer');
    let origin: string | undefined;
    try {
      origin = claimed ? new URL(claimed).origin : undefined;
    } catch {
      origin = undefined;
    }
    const own = `${req.protocol}://${req.get('host') ?? ''}`;
    if (origin && origin !== 'null' && (origin === publicOrigin || origin === own)) return next();
    sendProblem(
      res,
      new AppError('forbidden', 'A change here must come from a Bursar page (its Origin or Referer)'),
    );
  };
}

/**
 * The job dashboard: `/admin/login` and `/admin/logout` (a server-rendered
 * form and a Redis session cookie) and Bull Board at `/admin/queues`, the
 * full board for platform admins and a read-only one for school admins.
 * Every request under `/admin/queues` re-checks the user (disabled, or role
 * changed, ends the session), and a school admin's changes are refused at
 * the board's API, not only hidden in its UI.
 */
export function createAdminApp({ config, db, keys, redis, loginLimiter, userStates }: ApiContext): AdminApp {
  const sessions = createAdminSessions(redis, config.QUEUE_PREFIX);
  const boards = createAdminBoards(redis, config.QUEUE_PREFIX);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const setCookie = (res: Response, id: string) =>
    res.cookie(ADMIN_SESSION_COOKIE, id, {
      httpOnly: true,
      sameSite: 'strict',
      secure: config.NODE_ENV === 'production',
      path: '/admin',
      maxAge: ADMIN_SESSION_TTL_SECONDS * 1000,
    });
  const clearCookie = (res: Response) =>
    res.clearCookie(ADMIN_SESSION_COOKIE, {
      httpOnly: true,
      sameSite: 'strict',
      secure: config.NODE_ENV === 'production',
      path: '/admin',
    });
  const sendPage = (res: Response, status: number, page: string) =>
    res.status(status).type('html').setHeader('Cache-Control', 'no-store').send(page);

  /** The request's live session and its id, ended here when its user is gone, disabled or no longer has its role. */
  const currentSession = async (req: Request): Promise<{ id: string; session: AdminSession } | undefined> => {
    const id = sessionIdOf(req);
    if (!id) return undefined;
    const session = await sessions.touch(id);
    if (!session) return undefined;
    const user = await userStates.get(session.userId);
    if (user?.status === 'active' && user.role === session.role && DASHBOARD_ROLES.includes(user.role)) {
      return { id, session };
    }
    await sessions.end(id);
    return undefined;
  };

  app.use('/admin', sameOriginGuard(config.PUBLIC_URL));

  app.get(LOGIN_PATH, async (req, res) => {
    const current = await currentSession(req);
    const signedInAs = current ? (await findUserById(db, current.session.userId))?.email : undefined;
    sendPage(res, 200, loginPage({ signedInAs }));
  });

  app.post(LOGIN_PATH, express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const form = LoginBody.safeParse({ email: req.body?.email, password: req.body?.password });
    const email = typeof req.body?.email === 'string' ? req.body.email.slice(0, 254) : '';
    if (!form.success) {
      return sendPage(res, 422, loginPage({ message: 'Enter your email and password.', email }));
    }
    const ip = req.ip ?? 'unknown';
    let userId: string;
    try {
      // The same limiter and the same check as POST /api/auth/login.
      await loginLimiter.attempt(form.data.email, ip);
      const tokens = await logIn(db, keys, form.data.email, form.data.password);
      await loginLimiter.succeeded(form.data.email, ip);
      // The dashboard keeps its own session: the refresh token logIn started is revoked at once.
      await logOut(db, tokens.refreshToken);
      userId = decodeJwt(tokens.accessToken).sub!;
    } catch (error) {
      if (!(error instanceof AppError) || !['unauthenticated', 'rate_limited'].includes(error.code))
        throw error;
      for (const [name, value] of Object.entries(error.options.headers ?? {})) res.setHeader(name, value);
      const message =
        error.code === 'rate_limited'
          ? 'Too many sign-in attempts; wait a while and try again.'
          : GENERIC_FAILURE;
      return sendPage(res, statusOf(error), loginPage({ message, email }));
    }
    const user = await userStates.get(userId);
    if (!user || !DASHBOARD_ROLES.includes(user.role)) {
      return sendPage(
        res,
        403,
        loginPage({ message: 'This account may not use the job dashboard; ask a platform admin.', email }),
      );
    }
    // A new sign-in replaces the session the browser had, never leaves it alive beside the new one.
    const previous = sessionIdOf(req);
    if (previous) await sessions.end(previous);
    setCookie(res, await sessions.create({ userId, role: user.role }));
    res.redirect(303, BOARD_PATH);
  });

  app.post('/admin/logout', async (req, res) => {
    const id = sessionIdOf(req);
    if (id) await sessions.end(id);
    clearCookie(res);
    res.redirect(303, LOGIN_PATH);
  });

  const requireSession: RequestHandler = async (req, res, next) => {
    const api = req.path.startsWith('/api/');
    // Job lists and pages are live data; the board's hashed static files may be cached.
    if (!req.path.startsWith('/static/')) res.setHeader('Cache-Control', 'no-store');
    const current = await currentSession(req);
    if (!current) {
      if (!api) return res.redirect(303, LOGIN_PATH);
      return sendProblem(
        res,
        new AppError('unauthenticated', 'Sign in at /admin/login to use the job dashboard'),
      );
    }
    // The read-only board hides its buttons; this is what actually refuses the change.
    const { id, session } = current;
    if (api && session.role !== 'platform_admin' && !SAFE_METHODS.has(req.method)) {
      return sendProblem(res, new AppError('forbidden', 'School admins see the job dashboard read-only'));
    }
    // Sliding: Redis renewed the session's lifetime; the cookie's is renewed to match.
    setCookie(res, id);
    res.locals.adminSession = session;
    next();
  };
  /**
   * A school admin's board shows what the queues hold, and the jobs of their
   * own school in full; every other job's data, result, failure reason and
   * logs are withheld (another school's anything is not theirs to read). A job
   * is theirs when its payload names their school; payloads of ids only (a
   * payment event, a message) name none, so those are withheld too.
   */
  const scopeToSchool: express.RequestHandler = async (_req, res, next) => {
    const session = res.locals.adminSession as AdminSession;
    const schoolId = (await findUserById(db, session.userId))?.schoolId ?? null;
    const json = res.json.bind(res);
    res.json = (body: unknown) => json(withheldForSchool(body, schoolId));
    next();
  };
  /** Runs `board` for sessions whose role `allow`s it; any other request leaves it untouched. */
  const gated = (
    board: Express,
    allow: (role: Role) => boolean,
    ...before: express.RequestHandler[]
  ): Express => {
    const gate = express();
    gate.disable('x-powered-by');
    gate.use((_req, res, next) => {
      const role = (res.locals.adminSession as AdminSession | undefined)?.role;
      next(role && allow(role) ? undefined : 'router');
    });
    gate.use(...before, board);
    return gate;
  };
  app.use(BOARD_PATH, requireSession);
  app.use(
    BOARD_PATH,
    gated(boards.full, (role) => role === 'platform_admin'),
  );
  app.use(
    BOARD_PATH,
    gated(boards.readOnly, (role) => role === 'school_admin', scopeToSchool),
  );

  return { app, sessions, boards };
}

/** What a school admin sees of a job that is not their school's. */
export const WITHHELD = 'withheld: not a job of your school';

interface BoardJob {
  data?: { payload?: { schoolId?: unknown } } | unknown;
  returnValue?: unknown;
  failedReason?: unknown;
  stacktrace?: unknown;
}

function withheldJob(job: BoardJob, schoolId: string | null): BoardJob {
  const owner = (job.data as { payload?: { schoolId?: unknown } } | undefined)?.payload?.schoolId;
  if (schoolId !== null && owner === schoolId) return job;
  return {
    ...job,
    data: { withheld: WITHHELD },
    returnValue: null,
    failedReason: job.failedReason ? WITHHELD : job.failedReason,
    stacktrace: [],
  };
}

/**
 * A board API answer as a school admin may see it: jobs of other schools (or
 * of none) withheld, in a queue listing or a single job; job logs withheld.
 */
export function withheldForSchool(body: unknown, schoolId: string | null): unknown {
  if (Array.isArray(body)) return [];
  if (!body || typeof body !== 'object') return body;
  const answer = body as { queues?: { jobs?: BoardJob[] }[]; job?: BoardJob; logs?: unknown };
  const scoped: Record<string, unknown> = { ...answer };
  if (Array.isArray(answer.queues)) {
    scoped.queues = answer.queues.map((queue) =>
      Array.isArray(queue.jobs)
        ? { ...queue, jobs: queue.jobs.map((job) => withheldJob(job, schoolId)) }
        : queue,
    );
  }
  if (answer.job && typeof answer.job === 'object') scoped.job = withheldJob(answer.job, schoolId);
  if ('logs' in answer) scoped.logs = [];
  return scoped;
}
