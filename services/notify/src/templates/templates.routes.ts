import { Router } from 'express';
import {
  CreateTemplateBody,
  IdParams,
  ListTemplatesQuery,
  Template,
  TemplateList,
  UpdateTemplateBody,
} from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { NotifyContext } from '../context.js';
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  submitTemplate,
  updateTemplate,
} from './templates.service.js';

/** A school's WhatsApp message templates: `/notify/templates`. */
export function templatesRoutes({ db, provider, config }: NotifyContext): Router {
  const router = Router();

  router.post(
    '/notify/templates',
    route(
      {
        permission: 'messages:write',
        body: CreateTemplateBody,
        status: 201,
        response: Template,
        summary: 'Create a draft template',
        tags: ['templates'],
        errors: ['conflict', 'not_found'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => createTemplate(trx, actor, body)),
    ),
  );

  router.get(
    '/notify/templates',
    route(
      {
        permission: 'messages:read',
        query: ListTemplatesQuery,
        response: TemplateList,
        summary: 'List templates',
        tags: ['templates'],
      },
      ({ query, caller }) => listTemplates(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.get(
    '/notify/templates/:id',
    route(
      {
        permission: 'messages:read',
        params: IdParams,
        response: Template,
        summary: 'Get a template',
        tags: ['templates'],
        errors: ['not_found'],
      },
      ({ params, caller }) => getTemplate(db, readScope(caller), params.id),
    ),
  );

  router.patch(
    '/notify/templates/:id',
    route(
      {
        permission: 'messages:write',
        params: IdParams,
        body: UpdateTemplateBody,
        response: Template,
        summary: 'Change a draft or rejected template (a rejected one becomes a draft again)',
        tags: ['templates'],
        errors: ['conflict', 'not_found'],
      },
      ({ params, body, caller, actor }) =>
        db.transaction().execute((trx) => updateTemplate(trx, actor, readScope(caller), params.id, body)),
    ),
  );

  router.delete(
    '/notify/templates/:id',
    route(
      {
        permission: 'messages:write',
        params: IdParams,
        status: 204,
        summary: 'Delete a draft no campaign uses',
        tags: ['templates'],
        errors: ['conflict', 'not_found'],
      },
      async ({ params, caller, actor }) => {
        await db.transaction().execute((trx) => deleteTemplate(trx, actor, readScope(caller), params.id));
      },
    ),
  );

  router.post(
    '/notify/templates/:id/submit',
    route(
      {
        permission: 'messages:write',
        params: IdParams,
        response: Template,
        summary: 'Submit a draft for the provider’s review',
        description:
          'The status follows the provider’s answer (approved or rejected at once, else submitted until ' +
          'the review webhook arrives). Gupshup takes submissions only in its console: 409.',
        tags: ['templates'],
        errors: ['conflict', 'not_found', 'validation_failed', 'service_unavailable'],
      },
      ({ params, caller, actor }) =>
        submitTemplate({ db, provider, config }, actor, readScope(caller), params.id),
    ),
  );

  return router;
}
