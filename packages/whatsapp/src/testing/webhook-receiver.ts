import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One webhook the receiver got: the exact bytes and headers, as a real receiver must verify them. */
export interface ReceivedWebhook {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

/** A local HTTP endpoint that records webhooks, for tests and for trying the sandbox by hand. */
export interface WebhookReceiver {
  url: string;
  /** Every request so far, in arrival order. */
  requests: ReceivedWebhook[];
  /** Resolves with the first `count` requests once that many have arrived (the test's own timeout bounds it). */
  waitFor(count: number): Promise<ReceivedWebhook[]>;
  /** Answers the next `count` requests with 500 instead of 200 (a receiver that is failing). */
  refuse(count: number): void;
  close(): Promise<void>;
}

/**
 * Starts a webhook receiver on an ephemeral loopback port. It answers 200
 * (or 500 for requests `refuse` asked it to), recording every request
 * including the refused ones, so a test sees the sender's retries.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const waiters: { count: number; resolve: (requests: ReceivedWebhook[]) => void }[] = [];
  let refusals = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawBody: Buffer.concat(chunks),
      });
      const refused = refusals > 0;
      if (refused) refusals -= 1;
      res.writeHead(refused ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(refused ? 'refused' : 'ok');
      for (const waiter of [...waiters]) {
        if (requests.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(requests.slice(0, waiter.count));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    waitFor(count) {
      if (requests.length >= count) return Promise.resolve(requests.slice(0, count));
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    refuse(count) {
      refusals = count;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
