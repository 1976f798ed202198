import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  AlwaysOnSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

/**
 * Starts OpenTelemetry before any instrumented module loads. Spans are always
 * created (so logs carry trace and span ids and job traces link up); they are
 * exported over OTLP only when an endpoint is configured.
 */
export function startTelemetry(service: string, otlpEndpoint: string | undefined): NodeSDK {
  const spanProcessors: SpanProcessor[] = otlpEndpoint
    ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` }))]
    : // A processor must exist for the SDK to install a real tracer provider; without
      // one, spans are invalid and logs would carry no trace ids.
      [new NoopSpanProcessor()];
  const sdk = new NodeSDK({
    serviceName: service,
    // Metrics are prom-client's (/metrics) and logs are pino's: the SDK builds neither.
    logRecordProcessors: [],
    spanProcessors,
    // With nothing to export, spans are not recorded: they still carry trace
    // and span ids (so logs and job payloads correlate) but cost next to nothing.
    sampler: otlpEndpoint ? new ParentBasedSampler({ root: new AlwaysOnSampler() }) : new AlwaysOffSampler(),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => /\/(healthz|readyz|metrics)$/.test(req.url?.split('?')[0] ?? ''),
      }),
      // One span per route handler; a span per middleware layer costs more than it tells.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      new PgInstrumentation({
        enhancedDatabaseReporting: false,
        ignoreConnectSpans: true,
        requireParentSpan: true,
      }),
      new IORedisInstrumentation(),
      // Outbound calls made with fetch (Razorpay, Stripe, Meta, Gupshup, the LLM): a client span
      // each, and the trace context sent along, so a send is one span inside its job's trace.
      new UndiciInstrumentation(),
      // Log lines go to stdout as JSON; copying each into the OTel logs SDK doubles their cost.
      new PinoInstrumentation({
        disableLogSending: true,
        logKeys: { traceId: 'trace_id', spanId: 'span_id', traceFlags: 'trace_flags' },
      }),
    ],
  });
  sdk.start();
  return sdk;
}
