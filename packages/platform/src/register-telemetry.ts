/**
 * Preloaded with `--import` before a service's entry point, so that ESM
 * imports of express, pg, ioredis and pino are hooked before they load.
 * This preload reads the standard OTEL_* variables itself because it runs
 * before any config module exists.
 */
import { register } from 'node:module';
import { startTelemetry, traceReadsRatio } from './telemetry.js';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
  data: { include: ['express', 'pg', 'ioredis', 'pino', 'http', 'https', 'node:http', 'node:https'] },
});

// Unless an operator asks for them, the SDK exports no metrics and no logs
// (prom-client and pino already do), and traces only via an explicit endpoint.
process.env.OTEL_METRICS_EXPORTER ??= 'none';
process.env.OTEL_LOGS_EXPORTER ??= 'none';
process.env.OTEL_TRACES_EXPORTER ??= 'none';

const sdk = startTelemetry(
  process.env.OTEL_SERVICE_NAME ?? 'bursar',
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
  traceReadsRatio(process.env.BURSAR_TRACE_READS_RATIO),
);
process.once('beforeExit', () => void sdk.shutdown());
