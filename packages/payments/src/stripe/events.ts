import { z } from 'zod';
import type { PaymentNotes, ProviderFact } from '../types.js';
import { MinorAmount, parseProviderBody, pickNotes } from '../event-body.js';

/** Stripe metadata is a map of strings; only the keys Bursar wrote are read. */
const StripeMetadata = z
  .record(z.string(), z.unknown())
  .optional()
  .nullable()
  .transform((value): PaymentNotes => pickNotes(value));

const Amount = MinorAmount;

// Lenient objects (zod's default strips unknown keys): Stripe adds fields with
// every API version, and Bursar reads only these.
const CheckoutSession = z.object({
  id: z.string().min(1),
  amount_total: Amount,
  currency: z.string().min(1),
  metadata: StripeMetadata,
  client_reference_id: z.string().nullable().optional(),
  payment_intent: z.string().min(1).nullable(),
  payment_status: z.string(),
});

const PaymentIntent = z.object({
  id: z.string().min(1),
  amount_received: Amount,
  currency: z.string().min(1),
  metadata: StripeMetadata,
});

const Refund = z.object({
  id: z.string().min(1),
  amount: Amount,
  currency: z.string().min(1),
  status: z.string().optional(),
  payment_intent: z.string().nullable().optional(),
});

const Charge = z.object({
  id: z.string().min(1),
  currency: z.string().min(1),
  payment_intent: z.string().min(1),
  refunds: z.object({ data: z.array(Refund) }),
});

const Envelope = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  created: z.number().int().optional(),
  data: z.object({ object: z.unknown() }),
});

function parseObject<S extends z.ZodType>(object: unknown, schema: S, type: string): z.infer<S> {
  const result = schema.safeParse(object);
  if (!result.success) {
    throw new Error(`Stripe ${type} event: data.object does not parse: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/**
 * What a Stripe webhook body means. `checkout.session.completed` (once paid)
 * and `payment_intent.succeeded` describe one payment by its PaymentIntent id
 * (`pi_…`), so either or both name the same payment; `charge.refunded` carries
 * every refund of the charge so far (one fact each; the ledger applies each
 * refund id once). Currency is upper-cased (Stripe sends `inr`). Any other
 * type, or a session not yet paid, is ignored. Throws an Error saying what is
 * wrong when the body is not the shape Stripe documents.
 */
export function parseStripeEvent(rawBody: Buffer | string): ProviderFact[] {
  const { type, created, data } = parseProviderBody('Stripe', Envelope, rawBody);
  const eventTime = created !== undefined ? new Date(created * 1000) : new Date();
  switch (type) {
    case 'checkout.session.completed': {
      const session = parseObject(data.object, CheckoutSession, type);
      // An asynchronous method (a bank debit) completes the session before the money is there;
      // payment_intent.succeeded reports it when it is.
      if (session.payment_status !== 'paid') return [{ kind: 'ignored', provider: 'stripe', type }];
      if (!session.payment_intent) {
        throw new Error('Stripe checkout.session.completed event: a paid session has no payment_intent');
      }
      return [
        {
          kind: 'payment',
          provider: 'stripe',
          providerPaymentId: session.payment_intent,
          amountMinor: session.amount_total,
          currency: session.currency.toUpperCase(),
          paidAt: eventTime,
          notes: session.metadata,
          providerReference: session.id,
        },
      ];
    }
    case 'payment_intent.succeeded': {
      const intent = parseObject(data.object, PaymentIntent, type);
      return [
        {
          kind: 'payment',
          provider: 'stripe',
          providerPaymentId: intent.id,
          amountMinor: intent.amount_received,
          currency: intent.currency.toUpperCase(),
          paidAt: eventTime,
          notes: intent.metadata,
        },
      ];
    }
    case 'charge.refunded': {
      const charge = parseObject(data.object, Charge, type);
      return charge.refunds.data
        .filter((refund) => refund.status === undefined || refund.status === 'succeeded')
        .map((refund) => ({
          kind: 'refund' as const,
          provider: 'stripe' as const,
          providerPaymentId: charge.payment_intent,
          providerRefundId: refund.id,
          amountMinor: refund.amount,
          currency: refund.currency.toUpperCase(),
        }));
    }
    default:
      return [{ kind: 'ignored', provider: 'stripe', type }];
  }
}
