import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError, JOBS } from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { enqueue, transactionWithOutbox, type OutboxRelay } from '@bursar/platform';
import {
  parseGupshupWebhook,
  parseMetaWebhook,
  verifyGupshupToken,
  verifyMetaHandshake,
  verifyMetaSignature,
  WhatsAppWebhookError,
  type HandshakeQuery,
  type WhatsAppProviderName,
} from '@bursar/whatsapp';
import type { Config } from '../config.js';
import { whatsappWebhooksReceived, whatsappWebhooksRejected } from './webhooks.metrics.js';
import { insertWhatsAppEvent } from './webhooks.repository.js';

export interface ReceiveDeps {
  db: Kysely<DB>;
  outbox: Pick<OutboxRelay, 'kick'>;
  config: Pick<Config, 'WHATSAPP_APP_SECRETS' | 'WHATSAPP_VERIFY_TOKEN' | 'GUPSHUP_CALLBACK_TOKEN'>;
}

/** What became of a verified webhook. */
export type ReceiveOutcome = 'stored' | 'duplicate';

/**
 * Meta's subscription handshake: the challenge to echo when the verify token
 * is the configured one; a 403 otherwise (Meta then does not subscribe).
 */
export function answerMetaHandshake(deps: Pick<ReceiveDeps, 'config'>, query: HandshakeQuery): string {
  const challenge = verifyMetaHandshake(query, deps.config.WHATSAPP_VERIFY_TOKEN);
  if (challenge === null) {
    throw new AppError('forbidden', 'The verification request is not a subscription with the right token');
  }
  return challenge;
}

function refuse(provider: WhatsAppProviderName, reason: string, error: AppError): AppError {
  whatsappWebhooksRejected.inc({ provider, reason });
  return error;
}

/**
 * The body read once to check it is the provider's shape: a body that is not
 * will never be, so it is a 400 rather than stored for the worker to fail on.
 * The error names paths in the body, never its values (phone numbers).
 */
function assertParses(provider: WhatsAppProviderName, rawBody: Buffer): void {
  try {
    if (provider === 'meta') parseMetaWebhook(rawBody);
    else parseGupshupWebhook(rawBody);
  } catch (error) {
    if (!(error instanceof WhatsAppWebhookError)) throw error;
    throw refuse(
      provider,
      'malformed',
      new AppError('malformed_json', `The body is not a webhook this endpoint reads: ${error.message}`),
    );
  }
}

/**
 * Stores a verified webhook in the inbox and, when it is new, puts its apply
 * job in the outbox in the same transaction, then kicks the relay. Nothing
 * waits on the worker or on Redis: once the row commits the event is safe.
 * The same bytes delivered again (providers retry) are stored once.
 */
async function storeEvent(
  deps: ReceiveDeps,
  provider: WhatsAppProviderName,
  rawBody: Buffer,
): Promise<ReceiveOutcome> {
  const bodyHash = createHash('sha256').update(rawBody).digest('hex');
  const outcome = await transactionWithOutbox(deps.db, deps.outbox, async (trx) => {
    const eventId = await insertWhatsAppEvent(trx, { provider, body: rawBody, bodyHash });
    if (eventId === null) return 'duplicate' as const;
    await enqueue(trx, JOBS['whatsapp-event.apply'], { eventId });
    return 'stored' as const;
  });
  whatsappWebhooksReceived.inc({ provider, outcome });
  return outcome;
}

/**
 * `POST /webhooks/whatsapp/meta`: `X-Hub-Signature-256` verified over the raw
 * bytes with any of the app secrets (a rotation), before anything is read.
 */
export async function receiveMetaWebhook(
  deps: ReceiveDeps,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<ReceiveOutcome> {
  if (!verifyMetaSignature(rawBody, signature, deps.config.WHATSAPP_APP_SECRETS)) {
    throw refuse(
      'meta',
      signature ? 'bad_signature' : 'missing_signature',
      new AppError('invalid_signature', 'The webhook signature did not verify; nothing was stored', {
        internal: `Meta webhook refused: ${signature ? 'signature mismatch' : 'no X-Hub-Signature-256'}`,
      }),
    );
  }
  assertParses('meta', rawBody);
  return storeEvent(deps, 'meta', rawBody);
}

/**
 * `POST /webhooks/whatsapp/gupshup?token=…`: Gupshup does not sign, so the
 * callback URL registered with it carries a token of Bursar's.
 */
export async function receiveGupshupWebhook(
  deps: ReceiveDeps,
  rawBody: Buffer,
  token: string | undefined,
): Promise<ReceiveOutcome> {
  if (!verifyGupshupToken(token, deps.config.GUPSHUP_CALLBACK_TOKEN)) {
    throw refuse(
      'gupshup',
      'bad_token',
      new AppError('invalid_signature', 'The callback token is missing or wrong; nothing was stored'),
    );
  }
  assertParses('gupshup', rawBody);
  return storeEvent(deps, 'gupshup', rawBody);
}
