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
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
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
export function guardiansRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/guardians',
    route(
      {
        permission: 'guardians:write',
        body: CreateGuardianBody,
        status: 201,
        response: Guardian,
        summary: 'Create a guardian',
        tags: ['guardians'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => createGuardian(trx, actor, body)),
    ),
  );

  router.get(
    '/api/guardians',
    route(
      {
        permission: 'guardians:read',
        query: ListGuardiansQuery,
        response: GuardianList,
        summary: 'List guardians',
        tags: ['guardians'],
      },
      ({ query, caller }) => listGuardians(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.get(
    '/api/guardians/:id',
    route(
      {
        permission: 'guardians:read',
        params: IdParams,
        response: GuardianDetail,
        summary: 'Get a guardian with their students',
        tags: ['guardians'],
      },
      ({ params, caller }) => getGuardian(db, readScope(caller), params.id),
    ),
  );

  router.patch(
    '/api/guardians/:id',
    route(
      {
        permission: 'guardians:write',
        params: IdParams,
        body: UpdateGuardianBody,
        response: Guardian,
        summary: 'Change a guardian',
        tags: ['guardians'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) =>
        db.transaction().execute((trx) => updateGuardian(trx, actor, readScope(caller), params.id, body)),
    ),
  );

  router.delete(
    '/api/guardians/:id',
    route(
      {
        permission: 'guardians:write',
        params: IdParams,
        status: 204,
        summary: 'Delete a guardian and their links to students',
        tags: ['guardians'],
      },
      async ({ params, caller, actor }) => {
        await db.transaction().execute((trx) => deleteGuardian(trx, actor, readScope(caller), params.id));
      },
    ),
  );

  router.put(
    '/api/students/:id/guardians/:guardianId',
    route(
      {
        permission: 'guardians:write',
        params: StudentGuardianParams,
        body: LinkGuardianBody,
        response: StudentGuardianLink,
        summary: 'Link a guardian to a student, or change the link (idempotent)',
        tags: ['guardians'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) =>
        db
          .transaction()
          .execute((trx) => linkGuardian(trx, actor, readScope(caller), params.id, params.guardianId, body)),
    ),
  );

  router.delete(
    '/api/students/:id/guardians/:guardianId',
    route(
      {
        permission: 'guardians:write',
        params: StudentGuardianParams,
        status: 204,
        summary: 'Unlink a guardian from a student',
        tags: ['guardians'],
      },
      async ({ params, caller, actor }) => {
        await db
          .transaction()
          .execute((trx) => unlinkGuardian(trx, actor, readScope(caller), params.id, params.guardianId));
      },
    ),
  );

  return router;
}
