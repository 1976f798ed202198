import { createServer, type Server } from 'node:net';

function listenEphemeral(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    // No host: the dual-stack wildcard, the same address Caddy's `:port` and the api's 0.0.0.0 bind.
    server.listen(0, () => resolve(server));
  });
}

/**
 * `count` distinct ports that were free a moment ago: the kernel picks them
 * (listen on port 0), all held open together so no two are the same, then
 * released for the caller's processes. Another process could still take one
 * in between; the caller's wait-for-ready then fails with a clear error.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenEphemeral());
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('listen(0) returned no port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}
