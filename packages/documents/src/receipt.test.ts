import { formatMoney } from '@bursar/contracts';
import { describe, expect, it } from 'vitest';
import { renderReceiptPdf } from './index.js';
import { makeLogoPng, pdfInfo, pdfText, pdfWords, receiptDocument, schoolHeader } from './testing.js';

/** One row of the details list as pdftotext lays it out: label, spaces, value. */
function row(label: string, value: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${escape(label)} +${escape(value)}`);
}

describe('a receipt', () => {
  it('for an online payment: number, day received in the school’s zone, amount, method, provider and its id, invoice and balance', async () => {
    const model = receiptDocument();
    const result = await renderReceiptPdf(model);
    expect(result.pages).toBe(1);
    expect(pdfInfo(result.bytes).Pages).toBe('1');
    expect(result.warnings).toEqual([]);
    const text = pdfText(result.bytes);
    expect(text).toContain('RCT-INV-2026-000042-1');
    // 18:45 UTC on 3 April is a quarter past midnight on 4 April in Kolkata.
    expect(text).toMatch(row('Date received', '4 Apr 2026'));
    expect(text).toContain('₹10,000.00');
    expect(text).toMatch(row('Received from', 'Rohan Kumar'));
    expect(text).toMatch(row('Student', 'आशा रोहन कुमार'));
    expect(text).toMatch(row('Admission no.', 'SPS-2019-0142'));
    expect(text).toMatch(row('Payment method', 'Online'));
    expect(text).toMatch(row('Provider', 'Razorpay'));
    expect(text).toMatch(row('Provider reference', 'pay_NxK4ZrB2q9Lm3T'));
    expect(text).toMatch(row('Towards invoice', 'INV-2026-000042'));
    expect(text).toMatch(row('Invoice total', '₹60,800.00'));
    expect(text).toMatch(row('Balance after this payment', '₹50,800.00'));
    expect(text).not.toContain('Refunded');
    expect(text).toContain('Page 1 of 1');
  });

  it('prints the amount in big figures', async () => {
    const words = pdfWords((await renderReceiptPdf(receiptDocument())).bytes);
    const amount = words.find((word) => word.text === '₹10,000.00' && word.yMax - word.yMin > 25);
    const label = words.find((word) => word.text === 'Payment')!;
    expect(amount).toBeDefined();
    expect(amount!.yMax - amount!.yMin).toBeGreaterThan(3 * (label.yMax - label.yMin));
  });

  it('for cash with the clerk’s reference, a refund and no payer: Cash, Reference, Refunded, no provider', async () => {
    const base = receiptDocument();
    const model = receiptDocument({
      payer: null,
      receipt: {
        ...base.receipt,
        method: 'cash',
        provider: null,
        reference: 'Counter slip 0042',
        refundedMinor: 2_500n,
      },
    });
    const text = pdfText((await renderReceiptPdf(model)).bytes);
    expect(text).toMatch(row('Payment method', 'Cash'));
    expect(text).toMatch(row('Reference', 'Counter slip 0042'));
    expect(text).toMatch(row('Refunded', '₹25.00'));
    expect(text).not.toContain('Provider');
    expect(text).not.toContain('Received from');
  });

  it('names methods as people do, and one the contracts add later still reads', async () => {
    for (const [method, label] of [
      ['bank_transfer', 'Bank transfer'],
      ['upi', 'UPI'],
      ['cheque', 'Cheque'],
      ['card', 'Card'],
      ['wallet_top_up', 'Wallet top up'],
    ]) {
      const model = receiptDocument({
        receipt: { ...receiptDocument().receipt, method: method!, provider: null },
      });
      expect(pdfText((await renderReceiptPdf(model)).bytes)).toMatch(row('Payment method', label!));
    }
  });

  it('in euros for a German school, with a Stripe payment and a logo', async () => {
    const model = receiptDocument({
      school: schoolHeader({
        currency: 'EUR',
        locale: 'de-DE',
        name: 'Grundschule Müllerstraße',
        logo: makeLogoPng(64),
      }),
      payer: { name: 'Françoise Müller' },
      student: { fullName: 'Łukasz Jürgen Ærø', admissionNo: 'GS-12', className: '3a' },
      receipt: {
        ...receiptDocument().receipt,
        provider: 'stripe',
        reference: 'pi_3PqLmN2eZvKYlo2C1x9aBcDe',
        timeZone: 'Europe/Berlin',
        amountMinor: 125_000n,
      },
    });
    const result = await renderReceiptPdf(model);
    expect(result.warnings).toEqual([]);
    const text = pdfText(result.bytes);
    expect(text).toContain(formatMoney(125_000n, 'EUR', 'de-DE').replace(/\u00a0/g, ' '));
    expect(text).toMatch(row('Date received', '03.04.2026'));
    expect(text).toMatch(row('Provider', 'Stripe'));
    expect(text).toMatch(row('Provider reference', 'pi_3PqLmN2eZvKYlo2C1x9aBcDe'));
    expect(text).toMatch(row('Student', 'Łukasz Jürgen Ærø'));
    expect(text).toMatch(row('Received from', 'Françoise Müller'));
  });

  it('stays on one page with every field at its longest', async () => {
    const long =
      'Maria-Zoë Łukasz Fernández de la Cruz y Montenegro आशा प्रिया शर्मा Vasquez-Oyelaran-Smythe'.repeat(2);
    const model = receiptDocument({
      school: schoolHeader({ name: long, address: long.repeat(2), contactEmail: long }),
      payer: { name: long },
      student: { fullName: long, admissionNo: long, className: long },
      receipt: {
        ...receiptDocument().receipt,
        reference: `pay_${'x'.repeat(200)}`,
        refundedMinor: 1n,
        number: long,
      },
      invoice: { number: long, totalMinor: 99_999_999_999_99n, balanceAfterMinor: 99_999_999_999_99n },
    });
    const result = await renderReceiptPdf(model);
    expect(result.pages).toBe(1);
    expect(pdfInfo(result.bytes).Pages).toBe('1');
    for (const word of pdfWords(result.bytes)) {
      expect(word.xMin, word.text).toBeGreaterThanOrEqual(41.5);
      expect(word.xMax, word.text).toBeLessThanOrEqual(595.28 - 41.5);
    }
  });
});
