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
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createSchool, deleteSchool, getSchool, listSchools, updateSchool } from './schools.service.js';

/** Schools (tenants): platform admins create and delete them; a school admin edits their own. */
export function schoolsRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/schools',
    route(
      {
        permission: 'schools:create',
        body: CreateSchoolBody,
        status: 201,
        response: School,
        summary: 'Create a school',
        tags: ['schools'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => createSchool(trx, actor, body)),
    ),
  );

  router.get(
    '/api/schools',
    route(
      {
        permission: 'schools:read',
        query: ListSchoolsQuery,
        response: SchoolList,
        summary: 'List schools (staff see only their own)',
        tags: ['schools'],
      },
      ({ query, caller }) => listSchools(db, readScope(caller), query),
    ),
  );

  router.get(
    '/api/schools/:id',
    route(
      {
        permission: 'schools:read',
        params: IdParams,
        response: SchoolDetail,
        summary: 'Get a school with its active student count',
        tags: ['schools'],
      },
      ({ params, caller }) => getSchool(db, readScope(caller), params.id),
    ),
  );

  router.patch(
    '/api/schools/:id',
    route(
      {
        permission: 'schools:update',
        params: IdParams,
        body: UpdateSchoolBody,
        response: School,
        summary: 'Change a school (the currency is fixed once it has invoices)',
        tags: ['schools'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) =>
        db.transaction().execute((trx) => updateSchool(trx, actor, readScope(caller), params.id, body)),
    ),
  );

  router.delete(
    '/api/schools/:id',
    route(
      {
        permission: 'schools:delete',
        params: IdParams,
        status: 204,
        summary: 'Delete an empty school (soft delete; its staff are disabled)',
        tags: ['schools'],
        errors: ['conflict'],
      },
      async ({ params, actor }) => {
        await db.transaction().execute((trx) => deleteSchool(trx, actor, params.id));
      },
    ),
  );

  return router;
}
