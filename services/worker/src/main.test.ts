import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  freePort,
  freshDatabase,
  startWorkerProcess,
  testQueuePrefix,
  testRedisUrl,
} from '@bursar/test-support';

const { url: databaseUrl } = await freshDatabase();

/** Starts the worker as it is deployed (main.ts, the production catalog and processors) and collects its JSON log. */
async function startWorker(env: Record<string, string>) {
  const port = await freePort();
  const child = startWorkerProcess({
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: testQueuePrefix(),
    WORKER_PORT: String(port),
    ...env,
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = () =>
    child
      .output(true)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as { level: string; msg: string; err?: { message: string }; queues?: string[] },
      );
  return { child, port, exited, lines, output: () => child.output(true) };
}

describe('the worker process', () => {
  it('exits 1 naming the problem when WORKER_QUEUES names a queue with no job', async () => {
    const worker = await startWorker({ WORKER_QUEUES: 'ai-drafts' });
    const [code] = await worker.exited;
    expect(code, worker.output()).toBe(1);
    const fatal = worker.lines().find((line) => line.msg === 'failed to start');
    expect(fatal?.err?.message).toContain('WORKER_QUEUES names ai-drafts, which has no job in the catalog');
  });

  it('starts with the production catalog, runs every queue with jobs, says so, and serves /healthz', async () => {
    const worker = await startWorker({});
    const deadline = Date.now() + 60_000;
    while (!worker.lines().some((line) => line.msg === 'worker listening')) {
      if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
      if (Date.now() > deadline) throw new Error(`worker not listening:\n${worker.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const said = worker.lines().find((line) => line.msg === 'running queues');
    expect(said).toMatchObject({
      level: 'info',
      queues: ['payments', 'invoice-pdf', 'kpi-report', 'whatsapp-campaign', 'whatsapp-send'],
    });
    expect((await fetch(`http://127.0.0.1:${worker.port}/healthz`)).status).toBe(200);

    worker.child.kill('SIGTERM');
    const [code] = await worker.exited;
    expect(code, worker.output()).toBe(0);
  });
});
