import { Router } from 'express';
import {
  CreateSchoolBody,
  IdParams,
  ListSchoolsQuery,
  School,
  SchoolDetail,
  SchoolList,
  UpdateSchoolBody,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { readScope } from '../tenancy.js';
import { createSchool, deleteSchool, getSchool, listSchools, updateSchool } from './schools.service.js';

/** Schools (tenants): platform admins create and delete them; a school admin edits their own. */
export function schoolsRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/schools',
    authenticate,
    requirePermission('schools:create'),
    route(
      {
        body: CreateSchoolBody,
        status: 201,
        response: School,
        summary: 'Create a school',
        tags: ['schools'],
      },
      ({ body, req }) => db.transaction().execute((trx) => createSchool(trx, actorOf(req), body)),
    ),
  );

  router.get(
    '/api/schools',
    authenticate,
    requirePermission('schools:read'),
    route(
      {
        query: ListSchoolsQuery,
        response: SchoolList,
        summary: 'List schools (staff see only their own)',
        tags: ['schools'],
      },
      ({ query, req }) => listSchools(db, readScope(callerOf(req)), query),
    ),
  );

  router.get(
    '/api/schools/:id',
    authenticate,
    requirePermission('schools:read'),
    route(
      {
        params: IdParams,
        response: SchoolDetail,
        summary: 'Get a school with its active student count',
        tags: ['schools'],
      },
      ({ params, req }) => getSchool(db, readScope(callerOf(req)), params.id),
    ),
  );

  router.patch(
    '/api/schools/:id',
    authenticate,
    requirePermission('schools:update'),
    route(
      {
        params: IdParams,
        body: UpdateSchoolBody,
        response: School,
        summary: 'Change a school (the currency is fixed once it has invoices)',
        tags: ['schools'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        db
          .transaction()
          .execute((trx) => updateSchool(trx, actorOf(req), readScope(callerOf(req)), params.id, body)),
    ),
  );

  router.delete(
    '/api/schools/:id',
    authenticate,
    requirePermission('schools:delete'),
    route(
      {
        params: IdParams,
        status: 204,
        summary: 'Delete an empty school (soft delete; its staff are disabled)',
        tags: ['schools'],
        errors: ['conflict'],
      },
      async ({ params, req }) => {
        await db.transaction().execute((trx) => deleteSchool(trx, actorOf(req), params.id));
      },
    ),
  );

  return router;
}
