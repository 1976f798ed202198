import { Queue } from 'bullmq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDb } from '@bursar/db';
import { createRedis } from '@bursar/platform';
import {
  freePort,
  freshDatabase,
  killHard,
  startWorkerProcess,
  testQueuePrefix,
  testRedisUrl,
  waitUntil,
  type ServiceProcess,
} from '@bursar/test-support';
import { WHATSAPP_SANDBOX_CREDENTIALS } from '@bursar/whatsapp';
import { startWhatsAppSandbox } from '@bursar/whatsapp/testing';
import {
  campaignMessages,
  campaignStatus,
  launchCampaign,
  receivedBy,
  schoolWithFamilies,
  startProviderLink,
  startWebhookInbox,
} from './whatsapp.testing.js';

const { url: databaseUrl } = await freshDatabase();
// The webhook inbox takes the sandbox's status webhooks many at once.
const db = createDb(databaseUrl, { max: 20, applicationName: 'whatsapp-crash-test' });
afterAll(() => db.destroy());
const prefix = testQueuePrefix();

// Only the worker process relays here: its sweeper moves the inbox's and the launch's outbox
// rows, so a webhook stored while it is dead waits in PostgreSQL for the next one.
const workerRelays = { kick: () => Promise.resolve() };
const inbox = await startWebhookInbox(db, workerRelays);
const sandbox = await startWhatsAppSandbox({ webhookUrl: inbox.url, statusDelayMs: 20 });
// A slow round trip: the sandbox has taken each message 200 ms before the worker hears so,
// so the kill finds sends the provider accepted and the worker never recorded.
const link = await startProviderLink(sandbox.url, { holdMs: 200 });
afterAll(() => sandbox.close());

afterAll(async () => {
  const connection = createRedis(testRedisUrl(), 'producer');
  for (const name of ['whatsapp-campaign', 'whatsapp-send']) {
    const queue = new Queue(name, { connection, prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  }
  await connection.quit();
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The worker as deployed, running only the WhatsApp queues, killed when the test ends. */
async function startWorker(): Promise<ServiceProcess> {
  const child = startWorkerProcess({
    DATABASE_URL: databaseUrl,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    WORKER_PORT: String(await freePort()),
    WORKER_QUEUES: 'whatsapp-campaign,whatsapp-send',
    WORKER_CONCURRENCY: '8',
    WHATSAPP_PROVIDER: 'sandbox',
    WHATSAPP_API_BASE: link.url,
    WHATSAPP_MPS: '300',
    WHATSAPP_SEND_CONCURRENCY: '64',
    // Long enough for the webhooks of sends the provider took to be applied on a loaded machine (a
    // shorter window would send those again: the trade-off the setting makes), short beside the
    // minute BullMQ takes to hand back the jobs the killed worker held.
    WHATSAPP_RECONCILE_AFTER_MS: '20000',
    OUTBOX_SWEEP_INTERVAL_MS: '200',
  });
  cleanups.push(() => killHard(child));
  return child;
}

function alive(child: ServiceProcess): void {
  if (child.exitCode !== null || child.signalCode !== null)
    throw new Error(`worker exited:\n${child.output()}`);
}

describe('WhatsApp sends when the worker is SIGKILLed mid-campaign', () => {
  it('messages each guardian exactly once after a restart: a send the provider took unheard is reconciled from its webhook, one it never took is sent again', async () => {
    const families = 1_500;
    const { schoolId, templateId, guardians } = await schoolWithFamilies(db, families, { invalid: 5 });
    const optedOut = guardians.slice(5, 10);
    await db
      .insertInto('whatsappOptOuts')
      .values(
        optedOut.map((guardian) => ({
          businessNumber: WHATSAPP_SANDBOX_CREDENTIALS.WHATSAPP_PHONE_NUMBER_ID,
          phone: guardian.phone,
          optedOut: true,
          keyword: 'stop',
        })),
      )
      .execute();
    const reachable = guardians.slice(10);

    const first = await startWorker();
    const campaignId = await launchCampaign(db, workerRelays, schoolId, templateId);
    await waitUntil(
      'a few hundred sends',
      async () => {
        alive(first);
        return sandbox.received().length >= 400;
      },
      60_000,
    );
    // The next three sends get no answer at all: these die before the provider took them.
    sandbox.setFault({ kind: 'timeout', count: 3 });
    await waitUntil('three sends to hang at the provider', async () => {
      alive(first);
      const now = Date.now();
      return (
        link.sends().filter((send) => send.providerStatus === undefined && now - send.at > 100).length >= 3
      );
    });
    await killHard(first);
    sandbox.clearFaults();
    // Otherwise the kill came too late to prove anything.
    expect(sandbox.received().length).toBeLessThan(reachable.length);
    expect(await campaignStatus(db, campaignId)).toBe('running');
    const restartedAt = new Date();

    // Sends active at the kill are stalled: the new worker takes them again once their locks have
    // lapsed and a stalled check has seen them twice (BullMQ's 30 s each, so up to a minute), by
    // when the webhooks stored meanwhile have long been applied — except those whose apply jobs
    // the kill cut off too, which come back with the sends; a send waits for such a webhook.
    const second = await startWorker();
    await waitUntil(
      'the campaign to complete after the restart',
      async () => {
        alive(second);
        return (await campaignStatus(db, campaignId)) === 'completed';
      },
      110_000,
    );

    const counts = receivedBy(
      sandbox,
      guardians.map((guardian) => guardian.phone),
    );
    // Each one not messaged exactly once, with how many times it was (0: missed, 2: sent twice).
    expect(
      reachable
        .map((guardian) => ({ id: guardian.id, received: counts.get(guardian.phone) ?? 0 }))
        .filter((guardian) => guardian.received !== 1),
    ).toEqual([]);
    expect(guardians.slice(0, 10).filter((guardian) => counts.get(guardian.phone) !== 0)).toEqual([]);
    expect(sandbox.received()).toHaveLength(reachable.length);

    const messages = await campaignMessages(db, campaignId);
    expect(messages).toHaveLength(families);
    const byStatus = (status: string) => messages.filter((message) => message.status === status).length;
    expect(byStatus('excluded')).toBe(10);
    expect(byStatus('sent') + byStatus('delivered') + byStatus('read')).toBe(reachable.length);

    const byId = new Map(messages.map((message) => [message.id, message]));
    const providerIdOf = new Map(
      sandbox.received().map((message) => [message.clientReference, message.providerMessageId]),
    );
    const takenBeforeKill = new Set(
      sandbox
        .received()
        .filter((message) => message.receivedAt < restartedAt)
        .map((message) => message.clientReference),
    );
    const unheard = link.sends().filter((send) => !send.answered);
    // Taken by the provider before the kill, its answer never reached the worker: only the
    // status webhook can have told Bursar the provider's id, and it was not sent again.
    const reconciled = unheard.filter((send) => takenBeforeKill.has(send.clientReference));
    expect(reconciled.length).toBeGreaterThan(0);
    expect(
      reconciled.map((send) => {
        const message = byId.get(send.clientReference!)!;
        return { attempts: message.attempts, providerMessageId: message.providerMessageId };
      }),
    ).toEqual(
      reconciled.map((send) => ({ attempts: 1, providerMessageId: providerIdOf.get(send.clientReference) })),
    );
    // Claimed before the kill but never taken: sent again once the reconcile wait had passed.
    const resent = unheard.filter((send) => !takenBeforeKill.has(send.clientReference));
    expect(resent.length).toBeGreaterThanOrEqual(3);
    expect(resent.map((send) => byId.get(send.clientReference!)!.attempts)).toEqual(resent.map(() => 2));
    console.info(
      `whatsapp crash: ${takenBeforeKill.size} taken before the kill, ${reconciled.length} reconciled from webhooks, ${resent.length} sent again`,
    );
  }, 170_000);
});
