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
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { Request } from 'express';
import { maskedPath } from './request-path.js';

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
      // One server span per request, named by its route template (`createHttpApp` sets the route):
      // no express instrumentation, whose spans per layer cost more than they told.
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => /\/(healthz|readyz|metrics)$/.test(req.url?.split('?')[0] ?? ''),
        // A capability in the path (a pay link's or document's token) never reaches a trace.
        applyCustomAttributesOnSpan: (span, req) => {
          const path = maskedPath(req as unknown as Request);
          if (path.masked) span.setAttribute('url.path', path.path);
        },
      }),
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
