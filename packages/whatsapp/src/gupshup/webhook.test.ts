import { describe, expect, it } from 'vitest';
import { WhatsAppWebhookError } from '../provider.js';
import { classifyGupshupErrorCode } from './errors.js';
import { parseGupshupWebhook, verifyGupshupToken } from './webhook.js';

const GS_ID = 'ee4a68a0-1203-4c85-8dc3-49d0b3226a35';
const WA_ID = 'gBEGkYaYVSEEAgnZxQ3JmKK6Wvg';

function event(payload: object, type = 'message-event') {
  return Buffer.from(
    JSON.stringify({ app: 'BursarSchool', timestamp: 1_700_000_000_123, version: 2, type, payload }),
  );
}

describe('verifyGupshupToken', () => {
  it('accepts the configured token only', () => {
    expect(verifyGupshupToken('cb-token-1', 'cb-token-1')).toBe(true);
    expect(verifyGupshupToken('cb-token-2', 'cb-token-1')).toBe(false);
    expect(verifyGupshupToken('cb-token-1x', 'cb-token-1')).toBe(false);
    expect(verifyGupshupToken(undefined, 'cb-token-1')).toBe(false);
    expect(verifyGupshupToken('', 'cb-token-1')).toBe(false);
    expect(verifyGupshupToken('', '')).toBe(false);
  });
});

describe('parseGupshupWebhook', () => {
  it('names every status by the Gupshup id the send answered with: id for enqueued and failed, gsId after', () => {
    const enqueued = parseGupshupWebhook(
      event({
        id: GS_ID,
        type: 'enqueued',
        destination: '919876543210',
        payload: { whatsappMessageId: WA_ID, type: 'template' },
      }),
    );
    const sent = parseGupshupWebhook(
      event({
        id: WA_ID,
        gsId: GS_ID,
        type: 'sent',
        destination: '919876543210',
        payload: { ts: 1700000001 },
      }),
    );
    const read = parseGupshupWebhook(
      event({
        id: WA_ID,
        gsId: GS_ID,
        type: 'read',
        destination: '919876543210',
        payload: { ts: 1700000009 },
      }),
    );
    expect([...enqueued, ...sent, ...read]).toEqual([
      {
        kind: 'status',
        providerMessageId: GS_ID,
        status: 'queued',
        at: new Date(1_700_000_000_123),
        recipient: '+919876543210',
      },
      {
        kind: 'status',
        providerMessageId: GS_ID,
        status: 'sent',
        at: new Date(1_700_000_000_123),
        recipient: '+919876543210',
      },
      {
        kind: 'status',
        providerMessageId: GS_ID,
        status: 'read',
        at: new Date(1_700_000_000_123),
        recipient: '+919876543210',
      },
    ]);
  });

  it('reads a failure’s code and reason, which classify as Gupshup documents them', () => {
    const [failed] = parseGupshupWebhook(
      event({
        id: GS_ID,
        type: 'failed',
        destination: '919876543210',
        payload: { code: 1002, reason: 'Number Does Not Exists On WhatsApp' },
      }),
    );
    expect(failed).toEqual({
      kind: 'status',
      providerMessageId: GS_ID,
      status: 'failed',
      at: new Date(1_700_000_000_123),
      recipient: '+919876543210',
      errorCode: '1002',
      errorTitle: 'Number Does Not Exists On WhatsApp',
    });
    expect(classifyGupshupErrorCode(1002)).toEqual({ kind: 'permanent', reason: 'invalid_number' });
    expect(classifyGupshupErrorCode(131047)).toEqual({ kind: 'permanent', reason: 'outside_window' });
    expect(classifyGupshupErrorCode(4001)).toEqual({ kind: 'rate_limited', scope: 'throughput' });
    expect(classifyGupshupErrorCode(7)).toBeUndefined();
  });

  it('reads a guardian’s message, with the app as the business side', () => {
    expect(
      parseGupshupWebhook(
        event(
          {
            id: 'ABEGkYaYVSEEAhAL3SLAWwHKeKrt6s3FKB0c',
            source: '919876543210',
            type: 'text',
            payload: { text: 'STOP' },
            sender: { phone: '919876543210', name: 'Asha', country_code: '91', dial_code: '9876543210' },
          },
          'message',
        ),
      ),
    ).toEqual([
      {
        kind: 'inbound',
        providerMessageId: 'ABEGkYaYVSEEAhAL3SLAWwHKeKrt6s3FKB0c',
        from: '+919876543210',
        text: 'STOP',
        messageType: 'text',
        at: new Date(1_700_000_000_123),
        businessNumberId: 'BursarSchool',
      },
    ]);
  });

  it('ignores other callback types and event types', () => {
    expect(parseGupshupWebhook(event({ phone: '919876543210', type: 'opted-in' }, 'user-event'))).toEqual([]);
    expect(parseGupshupWebhook(event({ id: GS_ID, type: 'deleted', destination: '919876543210' }))).toEqual(
      [],
    );
  });

  it('throws a typed error for a body that is not Gupshup’s shape, without the number', () => {
    const errorOf = (body: Buffer | string) => {
      try {
        parseGupshupWebhook(body);
      } catch (error) {
        return error;
      }
      return new Error('expected a throw');
    };
    expect(errorOf('{')).toBeInstanceOf(WhatsAppWebhookError);
    const bad = errorOf(event({ id: GS_ID, type: 'sent', destination: '+91 98765 43210' }));
    expect(bad).toBeInstanceOf(WhatsAppWebhookError);
    expect((bad as Error).message).toContain('payload.destination');
    expect((bad as Error).message).not.toContain('98765');
    expect(errorOf(Buffer.from(JSON.stringify({ type: 'message-event' })))).toBeInstanceOf(
      WhatsAppWebhookError,
    );
  });
});
