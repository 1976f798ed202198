import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

/** Methods that change nothing: a request with one of these is a read. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Which traces are recorded, for a span that starts a trace (every other span
 * follows its parent, `ParentBasedSampler`, so a trace is whole or absent):
 * every write (POST, PUT, PATCH, DELETE), every webhook and every job or other
 * root span is recorded; reads (GET, HEAD, OPTIONS server spans) are recorded
 * at `readRatio` by trace id. Reads are most of the traffic and each tells the
 * same story; the request log still has one line per read, with its trace id,
 * and every error and its status. An unrecorded span still carries its trace
 * and span ids, so logs and the jobs a read enqueues correlate all the same.
 */
export class WritesAndSampledReads implements Sampler {
  readonly #reads: TraceIdRatioBasedSampler;
  constructor(readonly readRatio: number) {
    this.#reads = new TraceIdRatioBasedSampler(readRatio);
  }

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    const method = attributes['http.request.method'];
    if (kind === SpanKind.SERVER && typeof method === 'string' && READ_METHODS.has(method)) {
      return this.#reads.shouldSample(context, traceId);
    }
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }

  toString(): string {
    return `WritesAndSampledReads{readRatio=${this.readRatio}}`;
  }
}

/** The share of reads traced when `BURSAR_TRACE_READS_RATIO` does not say (see {@link WritesAndSampledReads}). */
export const DEFAULT_TRACE_READS_RATIO = 0.1;

/** `BURSAR_TRACE_READS_RATIO` as a ratio in [0, 1]; anything else is the default (with a process warning). */
export function traceReadsRatio(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_TRACE_READS_RATIO;
  const ratio = Number(raw);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  process.emitWarning(
    `BURSAR_TRACE_READS_RATIO=${raw} is not a number in [0, 1]; tracing ${DEFAULT_TRACE_READS_RATIO} of reads`,
  );
  return DEFAULT_TRACE_READS_RATIO;
}

/**
 * Starts OpenTelemetry before any instrumented module loads. Spans are always
 * created (so logs carry trace and span ids and job traces link up); they are
 * recorded and exported over OTLP only when an endpoint is configured, then
 * by {@link WritesAndSampledReads}: every write, webhook and job, and
 * `readRatio` of reads.
 */
export function startTelemetry(
  service: string,
  otlpEndpoint: string | undefined,
  readRatio: number = DEFAULT_TRACE_READS_RATIO,
): NodeSDK {
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
    sampler: otlpEndpoint
      ? new ParentBasedSampler({ root: new WritesAndSampledReads(readRatio) })
      : new AlwaysOffSampler(),
    instrumentations: [
      // Outgoing node:http calls only: the platform's request middleware makes each request's one
      // server span itself (`server-span.ts`), named by its route, without binding every emitter.
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
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
