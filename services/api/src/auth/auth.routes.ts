import { Router } from 'express';
import { LoginBody, LogoutBody, RefreshBody } from '@bursar/contracts';
import { AppError, callerOf, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { getMe, logIn, logOut, refresh } from './auth.service.js';

export function authRoutes({ db, keys, loginLimiter, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/auth/login',
    route({ body: LoginBody }, async ({ body, req }) => {
      const ip = req.ip ?? 'unknown';
      await loginLimiter.check(body.email, ip);
      try {
        const tokens = await logIn(db, keys, body.email, body.password);
        await loginLimiter.recordSuccess(body.email);
        return tokens;
      } catch (error) {
        if (error instanceof AppError && error.code === 'unauthenticated') {
          await loginLimiter.recordFailure(body.email, ip);
        }
        throw error;
      }
    }),
  );

  router.post(
    '/api/auth/refresh',
    route({ body: RefreshBody }, ({ body }) => refresh(db, keys, body.refreshToken)),
  );

  router.post(
    '/api/auth/logout',
    route({ body: LogoutBody, status: 204 }, async ({ body }) => {
      await logOut(db, body.refreshToken);
    }),
  );

  router.get('/api/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(keys.jwks);
  });

  router.get(
    '/api/me',
    authenticate,
    route({}, ({ req }) => getMe(db, callerOf(req).userId)),
  );

  return router;
}
