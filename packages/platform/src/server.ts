import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Shutdown } from './shutdown.js';

/**
 * Listens on `port` (0 for an ephemeral port in tests) and registers a hook
 * that stops accepting connections and waits for in-flight requests.
 */
export async function listen(
  app: Express,
  port: number,
  shutdown?: Shutdown,
  host = '127.0.0.1',
): Promise<{ server: Server; port: number; url: string }> {
  const server = app.listen(port, host);
  await once(server, 'listening');
  // Longer than Caddy's idle keep-alive so the proxy, not Node, closes idle connections.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  shutdown?.add('http server', () => closeServer(server), 'servers');
  const bound = (server.address() as AddressInfo).port;
  return { server, port: bound, url: `http://127.0.0.1:${bound}` };
}

/** Stops accepting, closes idle keep-alive sockets, and resolves once in-flight requests finish. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    // A request still in flight leaves its keep-alive socket idle when it ends, and that socket
    // would hold close() open for keepAliveTimeout (65 s, past the shutdown deadline); Node 20
    // does not close it, so keep closing sockets as they go idle until the server has closed.
    const sweep = setInterval(() => server.closeIdleConnections(), 100).unref();
    server.close((error) => {
      clearInterval(sweep);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
