import { Router } from 'express';
import {
  CreateUserBody,
  IdParams,
  ListUsersQuery,
  SchoolUserParams,
  StaffUser,
  StaffUserList,
  UpdateUserBody,
} from '@bursar/contracts';
import { route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { createUser, getUser, listUsers, updateUser } from './users.service.js';

/** A school's staff logins, under the school: `/api/schools/:id/users`. */
export function usersRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/schools/:id/users',
    authenticate,
    requirePermission('users:write'),
    route(
      {
        params: IdParams,
        body: CreateUserBody,
        status: 201,
        response: StaffUser,
        summary: 'Create a staff user',
        tags: ['users'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        db.transaction().execute((trx) => createUser(trx, actorOf(req), params.id, body)),
    ),
  );

  router.get(
    '/api/schools/:id/users',
    authenticate,
    requirePermission('users:read'),
    route(
      {
        params: IdParams,
        query: ListUsersQuery,
        response: StaffUserList,
        summary: "List a school's staff users",
        tags: ['users'],
      },
      ({ params, query, req }) => listUsers(db, actorOf(req), params.id, query),
    ),
  );

  router.get(
    '/api/schools/:id/users/:userId',
    authenticate,
    requirePermission('users:read'),
    route(
      { params: SchoolUserParams, response: StaffUser, summary: 'Get a staff user', tags: ['users'] },
      ({ params, req }) => getUser(db, actorOf(req), params.id, params.userId),
    ),
  );

  router.patch(
    '/api/schools/:id/users/:userId',
    authenticate,
    requirePermission('users:write'),
    route(
      {
        params: SchoolUserParams,
        body: UpdateUserBody,
        response: StaffUser,
        summary: 'Change a staff user (name, role, status, password)',
        tags: ['users'],
        errors: ['forbidden'],
      },
      ({ params, body, req }) =>
        db.transaction().execute((trx) => updateUser(trx, actorOf(req), params.id, params.userId, body)),
    ),
  );

  return router;
}
