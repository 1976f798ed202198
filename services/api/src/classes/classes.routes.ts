import { Router } from 'express';
import {
  CreateClassBody,
  IdParams,
  ListClassesQuery,
  SchoolClass,
  SchoolClassList,
  UpdateClassBody,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { readScope } from '../tenancy.js';
import { createClass, deleteClass, getClass, listClasses, updateClass } from './classes.service.js';

/** Classes of a school: `/api/classes`. */
export function classesRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/classes',
    authenticate,
    requirePermission('classes:write'),
    route(
      {
        body: CreateClassBody,
        status: 201,
        response: SchoolClass,
        summary: 'Create a class',
        tags: ['classes'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, req }) => db.transaction().execute((trx) => createClass(trx, actorOf(req), body)),
    ),
  );

  router.get(
    '/api/classes',
    authenticate,
    requirePermission('classes:read'),
    route(
      { query: ListClassesQuery, response: SchoolClassList, summary: 'List classes', tags: ['classes'] },
      ({ query, req }) => listClasses(db, readScope(callerOf(req), query.schoolId), query),
    ),
  );

  router.get(
    '/api/classes/:id',
    authenticate,
    requirePermission('classes:read'),
    route(
      { params: IdParams, response: SchoolClass, summary: 'Get a class', tags: ['classes'] },
      ({ params, req }) => getClass(db, readScope(callerOf(req)), params.id),
    ),
  );

  router.patch(
    '/api/classes/:id',
    authenticate,
    requirePermission('classes:write'),
    route(
      {
        params: IdParams,
        body: UpdateClassBody,
        response: SchoolClass,
        summary: 'Change a class',
        tags: ['classes'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        db
          .transaction()
          .execute((trx) => updateClass(trx, actorOf(req), readScope(callerOf(req)), params.id, body)),
    ),
  );

  router.delete(
    '/api/classes/:id',
    authenticate,
    requirePermission('classes:write'),
    route(
      {
        params: IdParams,
        status: 204,
        summary: 'Delete a class no student is in',
        tags: ['classes'],
        errors: ['conflict'],
      },
      async ({ params, req }) => {
        await db
          .transaction()
          .execute((trx) => deleteClass(trx, actorOf(req), readScope(callerOf(req)), params.id));
      },
    ),
  );

  return router;
}
