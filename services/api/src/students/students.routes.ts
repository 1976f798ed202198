import { Router } from 'express';
import {
  CreateStudentBody,
  IdParams,
  ListStudentsQuery,
  Student,
  StudentDetail,
  StudentList,
  UpdateStudentBody,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { actorOf } from '../audit/audit.repository.js';
import { readScope } from '../tenancy.js';
import { createStudent, deleteStudent, getStudent, listStudents, updateStudent } from './students.service.js';

/** Students of a school: `/api/students`. Guardian links live with the guardians routes. */
export function studentsRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/students',
    authenticate,
    requirePermission('students:write'),
    route(
      {
        body: CreateStudentBody,
        status: 201,
        response: Student,
        summary: 'Create a student',
        tags: ['students'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, req }) => db.transaction().execute((trx) => createStudent(trx, actorOf(req), body)),
    ),
  );

  router.get(
    '/api/students',
    authenticate,
    requirePermission('students:read'),
    route(
      { query: ListStudentsQuery, response: StudentList, summary: 'List students', tags: ['students'] },
      ({ query, req }) => listStudents(db, readScope(callerOf(req), query.schoolId), query),
    ),
  );

  router.get(
    '/api/students/:id',
    authenticate,
    requirePermission('students:read'),
    route(
      {
        params: IdParams,
        response: StudentDetail,
        summary: 'Get a student with their credit and guardians',
        tags: ['students'],
      },
      ({ params, req }) => getStudent(db, readScope(callerOf(req)), params.id),
    ),
  );

  router.patch(
    '/api/students/:id',
    authenticate,
    requirePermission('students:write'),
    route(
      {
        params: IdParams,
        body: UpdateStudentBody,
        response: Student,
        summary: 'Change a student',
        tags: ['students'],
        errors: ['conflict'],
      },
      ({ params, body, req }) =>
        db
          .transaction()
          .execute((trx) => updateStudent(trx, actorOf(req), readScope(callerOf(req)), params.id, body)),
    ),
  );

  router.delete(
    '/api/students/:id',
    authenticate,
    requirePermission('students:write'),
    route(
      {
        params: IdParams,
        status: 204,
        summary: "Delete a student who was never invoiced (otherwise set status 'left')",
        tags: ['students'],
        errors: ['conflict'],
      },
      async ({ params, req }) => {
        await db
          .transaction()
          .execute((trx) => deleteStudent(trx, actorOf(req), readScope(callerOf(req)), params.id));
      },
    ),
  );

  return router;
}
