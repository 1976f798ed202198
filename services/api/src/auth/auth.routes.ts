import { Router } from 'express';
import { LoginBody, LogoutBody, Me, RefreshBody, TokenResponse } from '@bursar/contracts';
import { describeRoute, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { getMe, logIn, logOut, refresh } from './auth.service.js';

export function authRoutes({ db, keys, loginLimiter, userStates }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/auth/login',
    route(
      {
        body: LoginBody,
        response: TokenResponse,
        summary: 'Log in with email and password',
        tags: ['auth'],
        errors: ['unauthenticated', 'rate_limited'],
      },
      async ({ body, req }) => {
        const ip = req.ip ?? 'unknown';
        await loginLimiter.attempt(body.email, ip);
        const tokens = await logIn(db, keys, body.email, body.password);
        await loginLimiter.succeeded(body.email, ip);
        return tokens;
      },
    ),
  );

  router.post(
    '/api/auth/refresh',
    route(
      {
        body: RefreshBody,
        response: TokenResponse,
        summary: 'Swap a refresh token for new tokens (the old one is spent)',
        tags: ['auth'],
        errors: ['unauthenticated'],
      },
      ({ body }) => refresh(db, keys, body.refreshToken),
    ),
  );

  router.post(
    '/api/auth/logout',
    route(
      { body: LogoutBody, status: 204, summary: 'Log out every session of this login', tags: ['auth'] },
      async ({ body }) => {
        await logOut(db, body.refreshToken);
      },
    ),
  );

  router.get(
    '/api/.well-known/jwks.json',
    describeRoute(
      (_req, res) => {
        res.setHeader('Cache-Control', 'public, max-age=300');
        res.json(keys.jwks);
      },
      { summary: 'Public keys (JWKS) that verify access tokens', tags: ['auth'] },
    ),
  );

  router.get(
    '/api/me',
    route(
      {
        permission: 'authenticated',
        response: Me,
        summary: 'The logged-in user',
        tags: ['auth'],
        errors: ['not_found'],
      },
      ({ caller }) => getMe(userStates, caller.userId),
    ),
  );

  return router;
}
