import { Router } from 'express';
import { MessagingSettings, MessagingSettingsQuery, UpdateMessagingSettingsBody } from '@bursar/contracts';
import { route } from '@bursar/platform';
import type { NotifyContext } from '../context.js';
import { changeSettings, getSettings } from './settings.service.js';

/** A school's messaging settings (quiet hours, reminder offsets, opt-out and opt-in words): `/notify/settings`. */
export function settingsRoutes({ db }: NotifyContext): Router {
  const router = Router();

  router.get(
    '/notify/settings',
    route(
      {
        permission: 'messages:read',
        query: MessagingSettingsQuery,
        response: MessagingSettings,
        summary: 'A school’s messaging settings (platform admins name schoolId)',
        tags: ['settings'],
        errors: ['not_found'],
      },
      ({ query, caller }) => getSettings(db, caller, query.schoolId),
    ),
  );

  router.patch(
    '/notify/settings',
    route(
      {
        permission: 'messages:write',
        body: UpdateMessagingSettingsBody,
        response: MessagingSettings,
        summary: 'Change a school’s messaging settings; those not sent stay as they are',
        tags: ['settings'],
        errors: ['not_found'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => changeSettings(trx, actor, body)),
    ),
  );

  return router;
}
