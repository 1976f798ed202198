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
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { createStudent, deleteStudent, getStudent, listStudents, updateStudent } from './students.service.js';

/** Students of a school: `/api/students`. Guardian links live with the guardians routes. */
export function studentsRoutes({ db }: ApiContext): Router {
  const router = Router();

  router.post(
    '/api/students',
    route(
      {
        permission: 'students:write',
        body: CreateStudentBody,
        status: 201,
        response: Student,
        summary: 'Create a student',
        tags: ['students'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => createStudent(trx, actor, body)),
    ),
  );

  router.get(
    '/api/students',
    route(
      {
        permission: 'students:read',
        query: ListStudentsQuery,
        response: StudentList,
        summary: 'List students',
        tags: ['students'],
      },
      ({ query, caller }) => listStudents(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.get(
    '/api/students/:id',
    route(
      {
        permission: 'students:read',
        params: IdParams,
        response: StudentDetail,
        summary: 'Get a student with their credit and guardians',
        tags: ['students'],
      },
      ({ params, caller }) => getStudent(db, readScope(caller), params.id),
    ),
  );

  router.patch(
    '/api/students/:id',
    route(
      {
        permission: 'students:write',
        params: IdParams,
        body: UpdateStudentBody,
        response: Student,
        summary: 'Change a student',
        tags: ['students'],
        errors: ['conflict'],
      },
      ({ params, body, caller, actor }) =>
        db.transaction().execute((trx) => updateStudent(trx, actor, readScope(caller), params.id, body)),
    ),
  );

  router.delete(
    '/api/students/:id',
    route(
      {
        permission: 'students:write',
        params: IdParams,
        status: 204,
        summary: "Delete a student who was never invoiced (otherwise set status 'left')",
        tags: ['students'],
        errors: ['conflict'],
      },
      async ({ params, caller, actor }) => {
        await db.transaction().execute((trx) => deleteStudent(trx, actor, readScope(caller), params.id));
      },
    ),
  );

  return router;
}
