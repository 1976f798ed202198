/**
 * The WhatsApp sandbox provider as a process of `pnpm start` (when
 * `WHATSAPP_PROVIDER` is `sandbox`, the default): it takes the messages the
 * worker sends on port 3090 (`WHATSAPP_SANDBOX_PORT`), lists them at its page,
 * and sends signed status webhooks back through Caddy to notify, as Meta does.
 * Development only; never imported by a service.
 */
import { once } from 'node:events';
import { WHATSAPP_SANDBOX_CREDENTIALS } from '../packages/whatsapp/src/config.js';
import { startWhatsAppSandbox } from '../packages/whatsapp/src/testing/index.js';

const publicUrl = (process.env.PUBLIC_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const port = Number(process.env.WHATSAPP_SANDBOX_PORT ?? 3090);
const token = process.env.GUPSHUP_CALLBACK_TOKEN ?? WHATSAPP_SANDBOX_CREDENTIALS.GUPSHUP_CALLBACK_TOKEN;

const sandbox = await startWhatsAppSandbox({
  port,
  host: '127.0.0.1',
  webhookUrl: `${publicUrl}/webhooks/whatsapp/meta`,
  gupshupCallbackUrl: `${publicUrl}/webhooks/whatsapp/gupshup?token=${encodeURIComponent(token)}`,
  ...(process.env.WHATSAPP_APP_SECRETS
    ? { appSecret: process.env.WHATSAPP_APP_SECRETS.split(',')[0]!.trim() }
    : {}),
});
process.stdout.write(`WhatsApp sandbox listening on ${sandbox.url}\n`);

await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
await sandbox.close();
process.exit(0);
