import { beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '@bursar/test-support';
import { testDocuments } from '../documents/documents.testing.js';
import {
  campaignMessages,
  campaignStatus,
  launchCampaign,
  receivedBy,
  schoolWithFamilies,
  startProviderLink,
  startWhatsAppWorkers,
  testWhatsAppDeps,
  whatsappTestBed,
} from './whatsapp.testing.js';

// A provider that answers too late: the worker gives up on the call (after 1 s) while the provider
// has taken the message (the link hands the answer back 3 s after) and sends its statuses.
// Statuses come after the queue's first retry (5 s) would, so a send retried blindly would go twice.
// The margins are wide on both sides for a full suite on two cores: with a 150 ms timeout the
// provider sometimes had not taken the message yet when the worker gave up.
const { db, logger, prefix, relay, sendQueue, sandbox } = await whatsappTestBed('whatsapp-no-answer-test', {
  poolMax: 20,
  sandbox: { statusDelayMs: 6_000 },
});
const link = await startProviderLink(sandbox.url, { holdMs: 3_000 });
const RECONCILE_AFTER_MS = 8_000;
const whatsapp = testWhatsAppDeps({
  apiBase: link.url,
  sendQueue,
  reconcileAfterMs: RECONCILE_AFTER_MS,
  env: { WHATSAPP_TIMEOUT_MS: '1000' },
});

describe('WhatsApp sends whose provider call gets no answer in time', () => {
  relay.start();
  startWhatsAppWorkers({ db, logger, outbox: relay, documents: testDocuments(db, logger), whatsapp, prefix });
  beforeEach(() => sandbox.reset());

  it('does not send again a message the provider took without answering in time: its status webhook settles it', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 12);
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await waitUntil(
      'the campaign to complete',
      async () => (await campaignStatus(db, campaignId)) === 'completed',
      30_000,
    );
    // Past the reconcile window, so every held job has come back and decided.
    await new Promise((resolve) => setTimeout(resolve, RECONCILE_AFTER_MS + 1_000));
    const counts = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    expect([...counts.values()]).toEqual(guardians.map(() => 1));
    const messages = await campaignMessages(db, campaignId);
    expect(messages.map((message) => message.attempts)).toEqual(messages.map(() => 1));
    expect(messages.every((message) => ['sent', 'delivered', 'read'].includes(message.status))).toBe(true);
    // Every call did time out: the provider took each (it gave an id), the worker had gone by then.
    expect(link.sends()).toHaveLength(guardians.length);
    expect(link.sends().every((send) => send.providerMessageId && !send.answered)).toBe(true);
  });

  it('sends again, once, a message the provider never took, after the window passes with no status', async () => {
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, 3);
    // The first three calls reach nobody who keeps them: no message, no answer, no webhook.
    sandbox.setFault({ kind: 'timeout', count: 3 });
    const campaignId = await launchCampaign(db, relay, schoolId, templateId);
    await waitUntil(
      'the campaign to complete',
      async () => (await campaignStatus(db, campaignId)) === 'completed',
      RECONCILE_AFTER_MS * 10,
    );
    const counts = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    expect([...counts.values()]).toEqual([1, 1, 1]);
    const messages = await campaignMessages(db, campaignId);
    expect(messages.map((message) => message.attempts)).toEqual([2, 2, 2]);
  });
});
