/**
 * The floor a webhook is compared against: express 5 reading the raw body (the
 * same 256 KB cap as billing-webhook) and answering 200 `{"received":true}`.
 * No signature check, database, outbox, request log or telemetry: what is left
 * is the HTTP and proxy cost every webhook pays.
 *
 *   BARE_PORT=… node --import tsx bench/lib/bare-webhook-server.ts
 *
 * Started by webhooks.bench.ts as its own process, behind the same Caddy as billing-webhook.
 */
import express from 'express';

const port = Number(process.env.BARE_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('bare-webhook-server needs BARE_PORT');

const app = express();
app.disable('x-powered-by');
app.get('/bare/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/bare/webhook', express.raw({ type: () => true, limit: 256 * 1024 }), (_req, res) => {
  res.json({ received: true });
});

const server = app.listen(port, () => console.log(`bare webhook listening on ${port}`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
