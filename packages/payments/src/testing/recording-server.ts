import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/** A request the recording server saw, body as text. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Answer = (request: SeenRequest, res: ServerResponse) => void;

/**
 * A stand-in for a provider's REST API in the clients' tests: records every
 * request exactly as Bursar sent it and answers what the test sets
 * (`whenWell`, the provider's success answer, by default). Closed when the
 * file's tests end.
 */
export async function startRecordingServer(whenWell: Answer) {
  const seen: SeenRequest[] = [];
  let answer: Answer = whenWell;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      answer(request, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    answerWith(next: Answer) {
      answer = next;
    },
    /** Back to answering as the provider does when all is well, with nothing recorded. */
    reset() {
      seen.length = 0;
      answer = whenWell;
    },
  };
}
