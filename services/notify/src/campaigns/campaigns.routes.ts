import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import {
  Campaign,
  CampaignList,
  CampaignRecipientList,
  CampaignStatusChange,
  CreateCampaignBody,
  IdParams,
  ListCampaignsQuery,
  ListRecipientsQuery,
} from '@bursar/contracts';
import { readScope, route } from '@bursar/platform';
import type { NotifyContext } from '../context.js';
import {
  cancelCampaign,
  createCampaign,
  getCampaign,
  launchCampaign,
  listCampaigns,
  listRecipients,
  pauseCampaign,
  recipientsCsv,
  resumeCampaign,
} from './campaigns.service.js';

/** WhatsApp campaigns and their recipients: `/notify/campaigns`. */
export function campaignsRoutes({ db, outbox, logger }: NotifyContext): Router {
  const router = Router();
  const deps = { db, outbox };

  router.post(
    '/notify/campaigns',
    route(
      {
        permission: 'messages:write',
        body: CreateCampaignBody,
        status: 201,
        response: Campaign,
        summary: 'Create a draft campaign (launching it needs the template approved)',
        tags: ['campaigns'],
        errors: ['not_found'],
      },
      ({ body, actor }) => db.transaction().execute((trx) => createCampaign(trx, actor, body)),
    ),
  );

  router.get(
    '/notify/campaigns',
    route(
      {
        permission: 'messages:read',
        query: ListCampaignsQuery,
        response: CampaignList,
        summary: 'List campaigns with their stats',
        tags: ['campaigns'],
      },
      ({ query, caller }) => listCampaigns(db, readScope(caller, query.schoolId), query),
    ),
  );

  router.get(
    '/notify/campaigns/:id',
    route(
      {
        permission: 'messages:read',
        params: IdParams,
        response: Campaign,
        summary: 'Get a campaign with its stats',
        tags: ['campaigns'],
        errors: ['not_found'],
      },
      ({ params, caller }) => getCampaign(db, readScope(caller), params.id),
    ),
  );

  const transitions = [
    ['launch', launchCampaign, 202, 'Launch a draft (scheduled when scheduledAt is ahead)'],
    ['pause', pauseCampaign, 200, 'Pause a launching or running campaign'],
    ['resume', resumeCampaign, 200, 'Resume a paused campaign, queueing its unsent messages again'],
    ['cancel', cancelCampaign, 200, 'Cancel a campaign that has not finished, and its unsent messages'],
  ] as const;
  for (const [action, transition, status, summary] of transitions) {
    router.post(
      `/notify/campaigns/:id/${action}`,
      route(
        {
          permission: 'messages:write',
          params: IdParams,
          status,
          response: CampaignStatusChange,
          summary,
          tags: ['campaigns'],
          errors: ['conflict', 'not_found'],
        },
        ({ params, caller, actor }) => transition(deps, actor, readScope(caller), params.id),
      ),
    );
  }

  router.get(
    '/notify/campaigns/:id/recipients',
    route(
      {
        permission: 'messages:read',
        params: IdParams,
        query: ListRecipientsQuery,
        response: CampaignRecipientList,
        summary: 'A campaign’s recipients, phone numbers masked (format=csv: every match, streamed)',
        description:
          '`format=csv` answers `text/csv` with a header line and every recipient matching `status` ' +
          "(`limit` and `offset` do not apply); cells a spreadsheet would run as formulas get a leading `'`.",
        tags: ['campaigns'],
        errors: ['not_found'],
      },
      async ({ params, query, caller, res }) => {
        const scope = readScope(caller);
        if (query.format === 'json') return listRecipients(db, scope, params.id, query);
        const lines = await recipientsCsv(db, scope, params.id, query.status);
        res.status(200);
        res.setHeader('Content-Type', 'text/csv; charset=utf-8');
        res.setHeader('Content-Disposition', `attachment; filename="campaign-${params.id}-recipients.csv"`);
        res.setHeader('Cache-Control', 'private, no-store');
        try {
          await pipeline(Readable.from(lines), res);
        } catch (error) {
          // Headers are gone: the download is cut short, so it is not taken for whole.
          if (!res.destroyed) res.destroy();
          logger.warn({ err: error, campaignId: params.id }, 'recipients export cut short');
        }
      },
    ),
  );

  return router;
}
