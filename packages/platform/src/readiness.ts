import type { DependencyCheck, ReadinessResponse } from '@bursar/contracts';

/** Named dependency probes: each resolves when the dependency answers, rejects otherwise. */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

const CHECK_TIMEOUT_MS = 2_000;

async function probe(check: () => Promise<unknown>): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every probe in parallel; the answer names each failing dependency. */
export async function runChecks(service: string, checks: ReadinessChecks): Promise<ReadinessResponse> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [name, await probe(check)] as const),
  );
  const failing = entries.filter(([, result]) => result.status === 'down').map(([name]) => name);
  return {
    status: failing.length ? 'unavailable' : 'ready',
    service,
    failing,
    checks: Object.fromEntries(entries),
  };
}
