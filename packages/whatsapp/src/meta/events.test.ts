import { describe, expect, it } from 'vitest';
import { WhatsAppWebhookError } from '../provider.js';
import { parseMetaWebhook } from './events.js';

const metadata = { display_phone_number: '15550100001', phone_number_id: '106540352242922' };

function delivery(changes: object[], object = 'whatsapp_business_account') {
  return Buffer.from(JSON.stringify({ object, entry: [{ id: '102290129340398', changes }] }));
}

const messages = (value: object) => ({
  field: 'messages',
  value: { messaging_product: 'whatsapp', metadata, ...value },
});

/** The error a parse threw (or a failure of the test when it did not throw). */
function parseError(body: Buffer | string): WhatsAppWebhookError {
  try {
    parseMetaWebhook(body);
  } catch (error) {
    expect(error).toBeInstanceOf(WhatsAppWebhookError);
    return error as WhatsAppWebhookError;
  }
  throw new Error('expected the parse to fail');
}

describe('parseMetaWebhook', () => {
  it('reads statuses in order, with the recipient in E.164 and Bursar’s reference', () => {
    const events = parseMetaWebhook(
      delivery([
        messages({
          statuses: [
            {
              id: 'wamid.A',
              status: 'sent',
              timestamp: '1700000000',
              recipient_id: '919876543210',
              biz_opaque_callback_data: 'msg_42',
              conversation: { id: 'c1', origin: { type: 'utility' } },
              pricing: { billable: true, pricing_model: 'PMP', category: 'utility' },
            },
            { id: 'wamid.A', status: 'delivered', timestamp: '1700000005', recipient_id: '919876543210' },
            { id: 'wamid.A', status: 'read', timestamp: 1700000009, recipient_id: '919876543210' },
          ],
        }),
      ]),
    );
    expect(events).toEqual([
      {
        kind: 'status',
        providerMessageId: 'wamid.A',
        status: 'sent',
        at: new Date(1_700_000_000_000),
        recipient: '+919876543210',
        clientReference: 'msg_42',
      },
      {
        kind: 'status',
        providerMessageId: 'wamid.A',
        status: 'delivered',
        at: new Date(1_700_000_005_000),
        recipient: '+919876543210',
      },
      {
        kind: 'status',
        providerMessageId: 'wamid.A',
        status: 'read',
        at: new Date(1_700_000_009_000),
        recipient: '+919876543210',
      },
    ]);
  });

  it('reads a failed status with its first error, the phone number blanked from the words', () => {
    const [event] = parseMetaWebhook(
      delivery([
        messages({
          statuses: [
            {
              id: 'wamid.F',
              status: 'failed',
              timestamp: '1700000000',
              recipient_id: '919876543210',
              errors: [
                {
                  code: 131026,
                  title: 'Message undeliverable',
                  message: 'Message undeliverable',
                  error_data: { details: 'Recipient 919876543210 cannot receive this message.' },
                },
                { code: 131000, title: 'Something went wrong' },
              ],
            },
          ],
        }),
      ]),
    );
    expect(event).toEqual({
      kind: 'status',
      providerMessageId: 'wamid.F',
      status: 'failed',
      at: new Date(1_700_000_000_000),
      recipient: '+919876543210',
      errorCode: '131026',
      errorTitle: 'Message undeliverable: Recipient [number] cannot receive this message.',
    });
  });

  it('reads inbound text, button and list replies, and media with a caption; skips system notices', () => {
    const base = { from: '919876543210', timestamp: '1700000100' };
    const events = parseMetaWebhook(
      delivery([
        messages({
          contacts: [{ profile: { name: 'Asha' }, wa_id: '919876543210' }],
          messages: [
            { ...base, id: 'wamid.1', type: 'text', text: { body: 'STOP' } },
            { ...base, id: 'wamid.2', type: 'button', button: { text: 'Pay now', payload: 'PAY' } },
            {
              ...base,
              id: 'wamid.3',
              type: 'interactive',
              interactive: { type: 'button_reply', button_reply: { id: 'b1', title: 'Yes' } },
            },
            {
              ...base,
              id: 'wamid.4',
              type: 'interactive',
              interactive: { type: 'list_reply', list_reply: { id: 'l1', title: 'Term 2' } },
            },
            {
              ...base,
              id: 'wamid.5',
              type: 'image',
              image: { id: 'media1', caption: 'receipt', mime_type: 'image/jpeg' },
            },
            { ...base, id: 'wamid.6', type: 'sticker', sticker: { id: 'media2' } },
            { ...base, id: 'wamid.7', type: 'system', system: { body: 'changed number' } },
          ],
        }),
      ]),
    );
    expect(
      events.map((event) =>
        event.kind === 'inbound' ? [event.providerMessageId, event.messageType, event.text] : null,
      ),
    ).toEqual([
      ['wamid.1', 'text', 'STOP'],
      ['wamid.2', 'button', 'Pay now'],
      ['wamid.3', 'interactive', 'Yes'],
      ['wamid.4', 'interactive', 'Term 2'],
      ['wamid.5', 'image', 'receipt'],
      ['wamid.6', 'sticker', ''],
    ]);
    expect(events[0]).toEqual({
      kind: 'inbound',
      providerMessageId: 'wamid.1',
      from: '+919876543210',
      text: 'STOP',
      messageType: 'text',
      at: new Date(1_700_000_100_000),
      businessNumberId: '106540352242922',
    });
  });

  it('reads template review results, dropping Meta’s NONE reason', () => {
    const update = (event: string, reason: string | null) => ({
      field: 'message_template_status_update',
      value: {
        event,
        message_template_id: 594425479261596,
        message_template_name: 'fee_reminder',
        message_template_language: 'en_US',
        reason,
      },
    });
    expect(
      parseMetaWebhook(
        delivery([update('APPROVED', 'NONE'), update('REJECTED', 'INVALID_FORMAT'), update('PAUSED', null)]),
      ),
    ).toEqual([
      {
        kind: 'template',
        providerTemplateId: '594425479261596',
        name: 'fee_reminder',
        language: 'en_US',
        status: 'approved',
      },
      {
        kind: 'template',
        providerTemplateId: '594425479261596',
        name: 'fee_reminder',
        language: 'en_US',
        status: 'rejected',
        reason: 'INVALID_FORMAT',
      },
      {
        kind: 'template',
        providerTemplateId: '594425479261596',
        name: 'fee_reminder',
        language: 'en_US',
        status: 'paused',
      },
    ]);
  });

  it('keeps a template id past 2^53 exact, as Meta sends it as a JSON number', () => {
    const raw = Buffer.from(
      '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"message_template_status_update",' +
        '"value":{"event":"APPROVED","message_template_id": 12345678901234567891,"message_template_name":"fee_reminder",' +
        '"message_template_language":"en","reason":"NONE"}}]}]}',
    );
    expect(parseMetaWebhook(raw)).toMatchObject([
      { kind: 'template', providerTemplateId: '12345678901234567891' },
    ]);
  });

  it('ignores other objects, fields, status values and template events', () => {
    expect(parseMetaWebhook(delivery([messages({ statuses: [] })], 'page'))).toEqual([]);
    expect(
      parseMetaWebhook(
        delivery([
          { field: 'account_update', value: { phone_number: '15550100001', event: 'VERIFIED_ACCOUNT' } },
          { field: 'message_template_quality_update', value: { anything: true } },
          messages({
            statuses: [
              { id: 'wamid.D', status: 'deleted', timestamp: '1700000000', recipient_id: '919876543210' },
            ],
          }),
          {
            field: 'message_template_status_update',
            value: {
              event: 'SOMETHING_NEW',
              message_template_id: 1,
              message_template_name: 'x',
              message_template_language: 'en',
            },
          },
        ]),
      ),
    ).toEqual([]);
    expect(parseMetaWebhook(delivery([]))).toEqual([]);
  });

  it('throws a typed error for a body that is not JSON or not Meta’s shape, naming the path and never the number', () => {
    expect(parseError('not json').message).toBe('Meta webhook: body is not JSON');
    expect(parseError(Buffer.from('{"object":"whatsapp_business_account"}')).message).toMatch(/entry/);
    const badRecipient = parseError(
      delivery([
        messages({
          statuses: [
            { id: 'wamid.A', status: 'sent', timestamp: '1700000000', recipient_id: '+91 98765 43210' },
          ],
        }),
      ]),
    );
    expect(badRecipient.message).toContain('entry.0.changes.0.value.statuses.0.recipient_id');
    expect(badRecipient.message).not.toMatch(/98765/);
    const badTime = parseError(
      delivery([
        messages({
          statuses: [{ id: 'wamid.A', status: 'sent', timestamp: 'yesterday', recipient_id: '919876543210' }],
        }),
      ]),
    );
    expect(badTime.message).toContain('timestamp');
    expect(badTime.message).not.toContain('919876543210');
    expect(parseError(delivery([{ field: 'messages', value: { metadata } }])).message).toContain(
      'messaging_product',
    );
  });
});
