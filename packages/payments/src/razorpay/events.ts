import { z } from 'zod';
import type { PaymentNotes, ProviderFact } from '../types.js';
import { MinorAmount, parseProviderBody, pickNotes } from '../event-body.js';

/**
 * Razorpay sends `notes` as an object of strings when it has any and as an
 * empty array when it has none; values Bursar did not write may be numbers.
 * Only the string values Bursar reads survive.
 */
const RazorpayNotes = z
  .union([z.record(z.string(), z.unknown()), z.array(z.unknown())])
  .optional()
  .nullable()
  .transform((value): PaymentNotes => (Array.isArray(value) ? {} : pickNotes(value)));

const Amount = MinorAmount;

// Lenient objects (zod's default strips unknown keys): Razorpay adds fields
// over time, and Bursar reads only these.
const PaymentEntity = z.object({
  id: z.string().min(1),
  amount: Amount,
  currency: z.string().min(1),
  status: z.string(),
  notes: RazorpayNotes,
  created_at: z.number().int().optional(),
  error_code: z.string().nullable().optional(),
  error_description: z.string().nullable().optional(),
});

const LinkOrOrderEntity = z.object({
  id: z.string().min(1),
  notes: RazorpayNotes,
});

const RefundEntity = z.object({
  id: z.string().min(1),
  amount: Amount,
  currency: z.string().min(1),
  payment_id: z.string().min(1),
});

const Envelope = z.object({
  entity: z.literal('event').optional(),
  event: z.string().min(1),
  created_at: z.number().int().optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
});

/** `payload.<name>.entity`, parsed with `schema`, or a clear error naming what is wrong. */
function entityOf<S extends z.ZodType>(
  payload: Record<string, unknown> | undefined,
  name: string,
  schema: S,
  type: string,
): z.infer<S> {
  const wrapper = payload?.[name];
  const result = schema.safeParse(
    wrapper && typeof wrapper === 'object' ? (wrapper as { entity?: unknown }).entity : undefined,
  );
  if (!result.success) {
    throw new Error(
      `Razorpay ${type} event: payload.${name}.entity does not parse: ${z.prettifyError(result.error)}`,
    );
  }
  return result.data;
}

function hasEntity(payload: Record<string, unknown> | undefined, name: string): boolean {
  const wrapper = payload?.[name];
  return Boolean(wrapper && typeof wrapper === 'object' && (wrapper as { entity?: unknown }).entity);
}

/**
 * What a Razorpay webhook body means. `payment.captured`, `order.paid` and
 * `payment_link.paid` all describe one payment by its `pay_` id, so whichever
 * arrives (and however often) names the same payment; the notes come from the
 * payment, else from the link or order it was paid through. `payment.failed`
 * is a failure to record, `refund.processed` a refund of its `pay_`; any other
 * type is ignored. Throws an Error saying what is wrong when the body is not
 * the shape Razorpay documents (retrying cannot fix that).
 */
export function parseRazorpayEvent(rawBody: Buffer | string): ProviderFact[] {
  const envelope = parseProviderBody('Razorpay', Envelope, rawBody);
  const { event: type, payload } = envelope;
  switch (type) {
    case 'payment.captured':
    case 'order.paid':
    case 'payment_link.paid': {
      const payment = entityOf(payload, 'payment', PaymentEntity, type);
      const link = hasEntity(payload, 'payment_link')
        ? entityOf(payload, 'payment_link', LinkOrOrderEntity, type)
        : undefined;
      const order = hasEntity(payload, 'order')
        ? entityOf(payload, 'order', LinkOrOrderEntity, type)
        : undefined;
      // The payment's notes, else the link's or order's (Razorpay leaves a link payment's own notes
      // empty); a source naming the invoice wins over one that only has other keys.
      const sources = [payment.notes, link?.notes, order?.notes].filter((found) => found !== undefined);
      const notes =
        sources.find((found) => found.invoiceId) ??
        sources.find((found) => Object.keys(found).length > 0) ??
        {};
      // When the event happened (the capture), else when the payment was made.
      const seconds = envelope.created_at ?? payment.created_at;
      const paidAt = seconds !== undefined ? new Date(seconds * 1000) : new Date();
      return [
        {
          kind: 'payment',
          provider: 'razorpay',
          providerPaymentId: payment.id,
          amountMinor: payment.amount,
          currency: payment.currency.toUpperCase(),
          paidAt,
          notes,
          ...(link ? { providerReference: link.id } : {}),
        },
      ];
    }
    case 'payment.failed': {
      const payment = entityOf(payload, 'payment', PaymentEntity, type);
      const reason = [payment.error_code, payment.error_description].filter(Boolean).join(': ');
      return [
        {
          kind: 'failed',
          provider: 'razorpay',
          providerPaymentId: payment.id,
          reason: reason || 'payment failed',
        },
      ];
    }
    case 'refund.processed': {
      const refund = entityOf(payload, 'refund', RefundEntity, type);
      return [
        {
          kind: 'refund',
          provider: 'razorpay',
          providerPaymentId: refund.payment_id,
          providerRefundId: refund.id,
          amountMinor: refund.amount,
          currency: refund.currency.toUpperCase(),
        },
      ];
    }
    default:
      return [{ kind: 'ignored', provider: 'razorpay', type }];
  }
}
