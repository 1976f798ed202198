import { Router } from 'express';
import {
  IdParams,
  SchoolStatement,
  SchoolStatementQuery,
  StudentStatement,
  StudentStatementQuery,
} from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { ApiContext } from '../context.js';
import { getSchoolStatement, getStudentStatement } from './statements.service.js';

export function statementsRoutes({ db }: ApiContext): Router {
  const router = Router();
  router.get(
    '/api/students/:id/statement',
    route(
      {
        permission: 'statements:read',
        params: IdParams,
        query: StudentStatementQuery,
        response: StudentStatement,
        summary: "A student's statement: invoices, payments and totals",
        tags: ['statements'],
      },
      ({ params, query, caller }) => getStudentStatement(db, readScope(caller), params.id, query),
    ),
  );
  router.get(
    '/api/schools/:id/statement',
    route(
      {
        permission: 'statements:read',
        params: IdParams,
        query: SchoolStatementQuery,
        response: SchoolStatement,
        summary: "A school's balances by student, with aging",
        tags: ['statements'],
      },
      ({ params, query, caller }) => getSchoolStatement(db, readScope(caller), params.id, query),
    ),
  );
  return router;
}
