/**
 * What an invoice or receipt PDF shows, as plain data: the worker (and the api,
 * for a receipt asked for before it was rendered) loads it from the database,
 * and the renderer turns it into bytes. Amounts are bigint minor units; the
 * renderer formats them with the school's currency and locale. The same model
 * always renders the same bytes, so its hash tells whether a re-render would
 * change anything.
 */

export type InvoiceStamp = 'PAID' | 'PARTIAL' | 'OVERDUE' | 'VOID';

export interface SchoolHeader {
  name: string;
  address: string | null;
  contactEmail: string | null;
  contactPhone: string | null;
  /** ISO 4217, e.g. INR. */
  currency: string;
  /** BCP 47, e.g. en-IN; amounts and dates are formatted for it. */
  locale: string;
  /**
   * The school's logo (PNG or JPEG bytes) when it has one. A logo that is
   * empty or cannot be decoded is left out; the renderer says so in its
   * result's `warnings`, never fails.
   */
  logo: Buffer | null;
}

export interface InvoiceDocumentLine {
  description: string;
  feeHead: string | null;
  quantity: number;
  unitAmountMinor: bigint;
  amountMinor: bigint;
}

export interface InvoiceDocument {
  school: SchoolHeader;
  invoice: {
    number: string;
    /** `YYYY-MM-DD` */
    issueDate: string;
    /** `YYYY-MM-DD` */
    dueDate: string;
    notes: string | null;
    /** The stamp to print; null while the invoice is simply pending. */
    stamp: InvoiceStamp | null;
    lines: InvoiceDocumentLine[];
    /** Sum of the positive lines. */
    subtotalMinor: bigint;
    /** Sum of the negative lines (discounts), as a positive amount; 0 when none. */
    discountMinor: bigint;
    paidMinor: bigint;
    refundedMinor: bigint;
    balanceMinor: bigint;
    voidReason: string | null;
  };
  student: { fullName: string; admissionNo: string; className: string | null };
  guardian: { name: string } | null;
  /** The pay link, printed as text and as a QR code, only when there is a balance to pay. */
  payLink: string | null;
}

export interface ReceiptDocument {
  school: SchoolHeader;
  receipt: {
    /** e.g. RCT-INV-2026-000042-1: stable for the payment. */
    number: string;
    /** When the money was received (ISO 8601 instant); printed as a date in the school's time zone. */
    paidAt: string;
    timeZone: string;
    amountMinor: bigint;
    /** cash, bank_transfer, card, upi, online, … as the contracts name it. */
    method: string;
    /** The provider's payment id (pay_…, pi_…) for online payments, else the reference the clerk typed. */
    reference: string | null;
    provider: string | null;
    /** Refunded out of this payment so far (shown only when non-zero). */
    refundedMinor: bigint;
  };
  payer: { name: string } | null;
  student: { fullName: string; admissionNo: string; className: string | null };
  invoice: { number: string; totalMinor: bigint; balanceAfterMinor: bigint };
}

export interface RenderResult {
  bytes: Buffer;
  /** Pages in the document. */
  pages: number;
  /** Things left out and why (a logo that could not be read): for the log. */
  warnings: string[];
}
