import { Router } from 'express';
import {
  CreateGuardianBody,
  Guardian,
  GuardianDetail,
  GuardianList,
  IdParams,
  LinkGuardianBody,
  ListGuardiansQuery,
  StudentGuardianLink,
  StudentGuardianParams,
  UpdateGuardianBody,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { readScope } from '../tenancy.js';
import {
  createGuardian,
  deleteGuardian,
  getGuardian,
  linkGuardian,
  listGuardians,
  unlinkGuardian,
  updateGuardian,
} from './guardians.service.js';

/**
 * Guardians (`/api/guardians`) and their links to students
 * (`/api/students/:id/guardians/:guardianId`). Linking is a guardians write:
 * accountants keep payer details current without editing students.
 */
export function guardiansRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/guardians',
    authenticate,
    requirePermission('guardians:write'),
    route(
      {
        body: CreateGuardianBody,
        status: 201,
        response: Guardian,
        summary: 'Create a guardian',
        tags: ['guardians'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, req }) => db.transaction().execute((trx) => createGuardian(trx, actorOf(req), body)),
    ),
  );

  router.get(
    '/api/guardians',
    authenticate,
    requirePermission('guardians:read'),
    route(
      { query: ListGuardiansQuery, response: GuardianList, summary: 'List guardians', tags: ['guardians'] },
      ({ query, req }) => listGuardians(db, readScope(callerOf(req), query.schoolId), query),
    ),
  );

  router.get(
    '/api/guardians/:id',
    authenticate,
    requirePermission('guardians:read'),
    route(
      {
        params: IdParams,
        response: GuardianDetail,
        summary: 'Get a guardian with their students',
        tags: ['guardians'],
      },
      ({ params, req }) => getGuardian(db, readScope(callerOf(req)), params.id),
    ),
  );

  router.patch(
    '/api/guardians/:id',
    authenticate,
    requirePermission('guardians:write'),
    route(
      {
        params: IdParams,
        body: UpdateGuardianBody,
        response: Guardian,
        summary: 'Change a guardian',
        tags: ['guardians'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        db
          .transaction()
          .execute((trx) => updateGuardian(trx, actorOf(req), readScope(callerOf(req)), params.id, body)),
    ),
  );

  router.delete(
    '/api/guardians/:id',
    authenticate,
    requirePermission('guardians:write'),
    route(
      {
        params: IdParams,
        status: 204,
        summary: 'Delete a guardian and their links to students',
        tags: ['guardians'],
      },
      async ({ params, req }) => {
        await db
          .transaction()
          .execute((trx) => deleteGuardian(trx, actorOf(req), readScope(callerOf(req)), params.id));
      },
    ),
  );

  router.put(
    '/api/students/:id/guardians/:guardianId',
    authenticate,
    requirePermission('guardians:write'),
    route(
      {
        params: StudentGuardianParams,
        body: LinkGuardianBody,
        response: StudentGuardianLink,
        summary: 'Link a guardian to a student, or change the link (idempotent)',
        tags: ['guardians'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        db
          .transaction()
          .execute((trx) =>
            linkGuardian(trx, actorOf(req), readScope(callerOf(req)), params.id, params.guardianId, body),
          ),
    ),
  );

  router.delete(
    '/api/students/:id/guardians/:guardianId',
    authenticate,
    requirePermission('guardians:write'),
    route(
      {
        params: StudentGuardianParams,
        status: 204,
        summary: 'Unlink a guardian from a student',
        tags: ['guardians'],
      },
      async ({ params, req }) => {
        await db
          .transaction()
          .execute((trx) =>
            unlinkGuardian(trx, actorOf(req), readScope(callerOf(req)), params.id, params.guardianId),
          );
      },
    ),
  );

  return router;
}
