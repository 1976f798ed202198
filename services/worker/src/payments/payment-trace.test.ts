import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createOutboxRelay, createRedis } from '@bursar/platform';
import { freshDatabase, testQueuePrefix, testRedisUrl } from '@bursar/test-support';
import { processPaymentEvent } from './payment-event.processor.js';
import {
  invoiceFor,
  paymentsOf,
  providerId,
  razorpayCaptured,
  storeEvent,
} from './payment-events.testing.js';

const { db } = await freshDatabase();
const logger = createLogger('payment-trace-test', 'silent');
const producer = createRedis(testRedisUrl(), 'producer');
const relay = createOutboxRelay({ db, redis: producer, prefix: testQueuePrefix(), logger });
const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});

afterAll(async () => {
  await relay.stop();
  await producer.quit();
  trace.disable();
  propagation.disable();
  context.disable();
});

/** The render jobs in the outbox for a subject, with the trace they carry. */
async function renderRows(jobName: string, subjectId: string) {
  const { rows } = await sql<{ trace: Record<string, string> }>`
    select trace from outbox where job_name = ${jobName} and payload->>${jobName === 'invoice-pdf.render' ? 'invoiceId' : 'paymentId'} = ${subjectId}
  `.execute(db);
  return rows;
}

describe('a payment’s trace through the database’s own jobs', () => {
  it('gives the receipt and invoice renders its writes ask for (by trigger) the trace of the payment job', async () => {
    const invoice = await invoiceFor(db, 50_000n);
    const paymentId = providerId('pay');
    const eventId = await storeEvent(
      db,
      'razorpay',
      razorpayCaptured({
        paymentId,
        amountMinor: 50_000n,
        notes: {
          invoiceId: invoice.invoiceId,
          schoolId: invoice.schoolId,
          invoiceNumber: invoice.invoiceNumber,
        },
      }),
    );
    const tracer = trace.getTracer('payment-trace-test');
    const traceId = await tracer.startActiveSpan('payments process', async (span) => {
      await processPaymentEvent({ eventId }, { db, logger, outbox: relay });
      span.end();
      return span.spanContext().traceId;
    });

    const [payment] = await paymentsOf(db, paymentId);
    const receipts = await renderRows('receipt-pdf.render', payment!.id);
    const invoices = await renderRows('invoice-pdf.render', invoice.invoiceId);
    expect(receipts).toHaveLength(1);
    // The invoice was issued (its first render, untraced) and then paid (traced).
    expect(invoices.length).toBeGreaterThanOrEqual(1);
    for (const row of [...receipts, invoices.at(-1)!]) {
      expect(row.trace.traceparent, JSON.stringify(row.trace)).toMatch(
        new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`),
      );
    }
  });

  it('writes an empty trace when the transaction set none, and ignores one that is not JSON', async () => {
    const invoice = await invoiceFor(db, 10_000n);
    await db.transaction().execute(async (trx) => {
      await sql`select set_config('bursar.trace', 'not json', true)`.execute(trx);
      await sql`update invoices set notes = 'changed by hand' where id = ${invoice.invoiceId}`.execute(trx);
    });
    const rows = await renderRows('invoice-pdf.render', invoice.invoiceId);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const row of rows) expect(row.trace).toEqual({});
  });
});
