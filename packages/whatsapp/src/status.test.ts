import { describe, expect, it } from 'vitest';
import type { MessageStatus } from './provider.js';
import { furthestStatus, statusRank } from './status.js';

describe('furthestStatus', () => {
  it('moves forward through queued, sent, delivered, read', () => {
    expect(furthestStatus(null, 'sent')).toBe('sent');
    expect(furthestStatus('queued', 'sent')).toBe('sent');
    expect(furthestStatus('sent', 'delivered')).toBe('delivered');
    expect(furthestStatus('delivered', 'read')).toBe('read');
  });

  it('never moves back: a late sent or delivered leaves read alone, and read may skip delivered', () => {
    expect(furthestStatus('read', 'delivered')).toBe('read');
    expect(furthestStatus('read', 'sent')).toBe('read');
    expect(furthestStatus('delivered', 'sent')).toBe('delivered');
    expect(furthestStatus('sent', 'read')).toBe('read');
  });

  it('keeps failed against a late queued or sent, but lets proof of delivery win over it', () => {
    expect(furthestStatus('sent', 'failed')).toBe('failed');
    expect(furthestStatus('failed', 'sent')).toBe('failed');
    expect(furthestStatus('failed', 'queued')).toBe('failed');
    expect(furthestStatus('failed', 'delivered')).toBe('delivered');
    expect(furthestStatus('read', 'failed')).toBe('read');
    expect(furthestStatus('delivered', 'failed')).toBe('delivered');
  });

  it('ends at the same status whatever order the same reports arrive in', () => {
    const reports: MessageStatus[] = ['sent', 'delivered', 'read'];
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) {
      const final = order.reduce<MessageStatus | null>(
        (current, index) => furthestStatus(current, reports[index]!),
        null,
      );
      expect(final).toBe('read');
    }
    expect(statusRank('queued')).toBeLessThan(statusRank('sent'));
  });
});
