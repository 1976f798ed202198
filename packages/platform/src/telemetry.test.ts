import { createHash } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRACE_READS_RATIO, traceReadsRatio, WritesAndSampledReads } from './telemetry.js';

/** A thousand trace ids as uniform as random ones, and the same every run (hashes of 0..999). */
const traceIds = Array.from({ length: 1000 }, (_, i) =>
  createHash('sha256').update(String(i)).digest('hex').slice(0, 32),
);

function recorded(sampler: WritesAndSampledReads, kind: SpanKind, method?: string): number {
  return traceIds.filter(
    (traceId) =>
      sampler.shouldSample(
        ROOT_CONTEXT,
        traceId,
        'span',
        kind,
        method ? { 'http.request.method': method } : {},
        [],
      ).decision === SamplingDecision.RECORD_AND_SAMPLED,
  ).length;
}

describe('which traces are recorded', () => {
  it('records every write, webhook, job and outbound call, and reads at the ratio', () => {
    const sampler = new WritesAndSampledReads(0.1);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      expect(recorded(sampler, SpanKind.SERVER, method)).toBe(traceIds.length);
    expect(recorded(sampler, SpanKind.CONSUMER)).toBe(traceIds.length);
    expect(recorded(sampler, SpanKind.INTERNAL)).toBe(traceIds.length);
    expect(recorded(sampler, SpanKind.CLIENT, 'GET')).toBe(traceIds.length);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const reads = recorded(sampler, SpanKind.SERVER, method);
      expect(reads).toBeGreaterThan(70);
      expect(reads).toBeLessThan(130);
    }
    expect(recorded(new WritesAndSampledReads(0), SpanKind.SERVER, 'GET')).toBe(0);
    expect(recorded(new WritesAndSampledReads(1), SpanKind.SERVER, 'GET')).toBe(traceIds.length);
  });

  it('reads the ratio from BURSAR_TRACE_READS_RATIO, and keeps the default for anything else', () => {
    expect(traceReadsRatio(undefined)).toBe(DEFAULT_TRACE_READS_RATIO);
    expect(traceReadsRatio('')).toBe(DEFAULT_TRACE_READS_RATIO);
    expect(traceReadsRatio('1')).toBe(1);
    expect(traceReadsRatio('0')).toBe(0);
    expect(traceReadsRatio('0.25')).toBe(0.25);
    for (const bad of ['1.5', '-0.1', 'all', 'NaN'])
      expect(traceReadsRatio(bad)).toBe(DEFAULT_TRACE_READS_RATIO);
  });
});
