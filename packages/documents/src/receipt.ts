import { formatInstantDay, methodLabel, money, providerLabel } from './format.js';
import {
  COLORS,
  CONTENT_WIDTH,
  MARGIN,
  drawFacts,
  drawFooters,
  drawHeading,
  drawSchoolHeader,
  rule,
  type Fact,
} from './layout.js';
import type { ReceiptDocument, RenderResult } from './model.js';
import { openPdf, pageCount } from './pdf.js';
import { fitLine } from './text.js';
import { missingGlyphWarning } from './warnings.js';

/** The receipt's details, label and value, in the order they print. */
function receiptFacts(doc: ReceiptDocument): Fact[] {
  const { receipt, school, student, invoice } = doc;
  const facts: Fact[] = [];
  if (doc.payer) facts.push(['Received from', doc.payer.name]);
  facts.push(['Student', student.fullName], ['Admission no.', student.admissionNo]);
  if (student.className) facts.push(['Class', student.className]);
  facts.push(['Payment method', methodLabel(receipt.method)]);
  if (receipt.provider) facts.push(['Provider', providerLabel(receipt.provider)]);
  if (receipt.reference)
    facts.push([receipt.provider ? 'Provider reference' : 'Reference', receipt.reference]);
  facts.push(['Towards invoice', invoice.number], ['Invoice total', money(invoice.totalMinor, school)]);
  if (receipt.refundedMinor !== 0n) facts.push(['Refunded', money(receipt.refundedMinor, school)]);
  facts.push(['Balance after this payment', money(invoice.balanceAfterMinor, school)]);
  return facts;
}

/**
 * A receipt as a one-page A4 PDF: the school's header, the receipt number and
 * the day the money arrived (in the school's time zone), the amount in large
 * figures, then who paid, for which student, how (method, provider and its
 * payment id for online payments), the invoice it paid with that invoice's
 * total and the balance left after it, and any refund. Same fonts, same
 * determinism and the same handling of a bad logo as the invoice.
 */
export async function renderReceiptPdf(doc: ReceiptDocument): Promise<RenderResult> {
  const { receipt, school } = doc;
  const warnings: string[] = [];
  const paidAt = Date.parse(receipt.paidAt);
  const pdf = openPdf({
    title: `Receipt ${receipt.number}`,
    author: school.name,
    subject: `Receipt ${receipt.number} for invoice ${doc.invoice.number}`,
    lang: school.locale,
    creationDate: new Date(Number.isNaN(paidAt) ? 0 : paidAt),
  });
  const { canvas } = pdf;

  let y = drawSchoolHeader(
    canvas,
    school,
    'RECEIPT',
    [
      ['Receipt no.', receipt.number],
      ['Date received', formatInstantDay(receipt.paidAt, school.locale, receipt.timeZone)],
    ],
    warnings,
  );

  y += drawHeading(canvas, 'AMOUNT RECEIVED', MARGIN, y, CONTENT_WIDTH);
  const amount = fitLine(money(receipt.amountMinor, school), { size: 28, bold: true }, CONTENT_WIDTH, 12);
  y += canvas.draw(amount, { x: MARGIN, y, width: CONTENT_WIDTH, color: COLORS.accent }) + 10;
  rule(canvas, MARGIN, y, CONTENT_WIDTH);
  y += 12;

  y = drawFacts(canvas, receiptFacts(doc), MARGIN, y, CONTENT_WIDTH * 0.75, {
    labelWidth: 150,
    align: 'left',
    size: 9.5,
  });
  y += 18;
  canvas.text(
    'Thank you. This receipt was issued electronically and needs no signature.',
    { size: 8 },
    { x: MARGIN, y, width: CONTENT_WIDTH, maxLines: 2, color: COLORS.muted },
  );

  drawFooters(canvas, `Receipt ${receipt.number}  ·  ${school.name}`);
  const pages = pageCount(pdf.doc);
  pdf.doc.end();
  const bytes = await pdf.bytes;
  const missing = missingGlyphWarning(canvas.missing);
  if (missing) warnings.push(missing);
  return { bytes, pages, warnings };
}
