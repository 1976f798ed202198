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
import type { ApiContext } from '../context.js';
import { createUser, getUser, listUsers, updateUser } from './users.service.js';

/** A school's staff logins, under the school: `/api/schools/:id/users`. */
export function usersRoutes({ db, userStates }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/schools/:id/users',
    route(
      {
        permission: 'users:write',
        params: IdParams,
        body: CreateUserBody,
        status: 201,
        response: StaffUser,
        summary: 'Create a staff user',
        tags: ['users'],
        errors: ['conflict'],
      },
      ({ params, body, actor }) => db.transaction().execute((trx) => createUser(trx, actor, params.id, body)),
    ),
  );

  router.get(
    '/api/schools/:id/users',
    route(
      {
        permission: 'users:read',
        params: IdParams,
        query: ListUsersQuery,
        response: StaffUserList,
        summary: "List a school's staff users",
        tags: ['users'],
      },
      ({ params, query, actor }) => listUsers(db, actor, params.id, query),
    ),
  );

  router.get(
    '/api/schools/:id/users/:userId',
    route(
      {
        permission: 'users:read',
        params: SchoolUserParams,
        response: StaffUser,
        summary: 'Get a staff user',
        tags: ['users'],
      },
      ({ params, actor }) => getUser(db, actor, params.id, params.userId),
    ),
  );

  router.patch(
    '/api/schools/:id/users/:userId',
    route(
      {
        permission: 'users:write',
        params: SchoolUserParams,
        body: UpdateUserBody,
        response: StaffUser,
        summary: 'Change a staff user (name, role, status, password)',
        tags: ['users'],
        errors: ['forbidden'],
      },
      async ({ params, body, actor }) => {
        const user = await db
          .transaction()
          .execute((trx) => updateUser(trx, actor, params.id, params.userId, body));
        // The change is committed: this process's next request must see it, not wait for the announcement.
        userStates.forget(params.userId);
        return user;
      },
    ),
  );

  return router;
}
