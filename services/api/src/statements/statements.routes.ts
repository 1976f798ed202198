import { Router } from 'express';
import {
  IdParams,
  SchoolStatement,
  SchoolStatementQuery,
  StudentStatement,
  StudentStatementQuery,
} from '@bursar/contracts';
import { callerOf, route } from '@bursar/platform';
import { requirePermission } from '../auth/permissions.js';
import type { ApiContext } from '../context.js';
import { readScope } from '../tenancy.js';
import { getSchoolStatement, getStudentStatement } from './statements.service.js';

export function statementsRoutes({ db, authenticate }: ApiContext): Router {
  const router = Router();
  router.get(
    '/api/students/:id/statement',
    authenticate,
    requirePermission('statements:read'),
    route(
      {
        params: IdParams,
        query: StudentStatementQuery,
        response: StudentStatement,
        summary: "A student's statement: invoices, payments and totals",
        tags: ['statements'],
      },
      ({ params, query, req }) => getStudentStatement(db, readScope(callerOf(req)), params.id, query),
    ),
  );
  router.get(
    '/api/schools/:id/statement',
    authenticate,
    requirePermission('statements:read'),
    route(
      {
        params: IdParams,
        query: SchoolStatementQuery,
        response: SchoolStatement,
        summary: "A school's balances by student, with aging",
        tags: ['statements'],
      },
      ({ params, query, req }) => getSchoolStatement(db, readScope(callerOf(req)), params.id, query),
    ),
  );
  return router;
}
