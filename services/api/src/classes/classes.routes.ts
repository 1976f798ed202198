import { Router } from 'express';
import {
  CreateClassBody,
  IdParams,
  ListClassesQuery,
  SchoolClass,
  SchoolClassList,
  UpdateClassBody,
} from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createClass, deleteClass, getClass, listClasses, updateClass } from './classes.service.js';

/** Classes of a school: `/api/classes`. */
export function classesRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/classes',
    route(
      {
        permission: 'classes:write',
        body: CreateClassBody,
        status: 201,
        response: SchoolClass,
        summary: 'Create a class',
        tags: ['classes'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => createClass(trx, actor, body)),
    ),
  );

  router.get(
    '/api/classes',
    route(
      {
        permission: 'classes:read',
        query: ListClassesQuery,
        response: SchoolClassList,
        summary: 'List classes',
        tags: ['classes'],
      },
      ({ query, caller }) => listClasses(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.get(
    '/api/classes/:id',
    route(
      {
        permission: 'classes:read',
        params: IdParams,
        response: SchoolClass,
        summary: 'Get a class',
        tags: ['classes'],
      },
      ({ params, caller }) => getClass(db, readScope(caller), params.id),
    ),
  );

  router.patch(
    '/api/classes/:id',
    route(
      {
        permission: 'classes:write',
        params: IdParams,
        body: UpdateClassBody,
        response: SchoolClass,
        summary: 'Change a class',
        tags: ['classes'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) =>
        db.transaction().execute((trx) => updateClass(trx, actor, readScope(caller), params.id, body)),
    ),
  );

  router.delete(
    '/api/classes/:id',
    route(
      {
        permission: 'classes:write',
        params: IdParams,
        status: 204,
        summary: 'Delete a class no student is in',
        tags: ['classes'],
        errors: ['conflict'],
      },
      async ({ params, caller, actor }) => {
        await db.transaction().execute((trx) => deleteClass(trx, actor, readScope(caller), params.id));
      },
    ),
  );

  return router;
}
