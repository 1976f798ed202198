import { maskPhone } from '../phone.js';
import type { ReceivedMessage, SandboxTemplate, WebhookDelivery } from './sandbox-types.js';

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const cell = (text: string) =>
  `<td style="padding: .3rem .6rem; border-top: 1px solid #e5e7eb; vertical-align: top">${text}</td>`;
const head = (labels: string[]) =>
  `<tr>${labels.map((label) => `<th style="text-align: left; padding: .3rem .6rem">${escapeHtml(label)}</th>`).join('')}</tr>`;

function messageRow(message: ReceivedMessage): string {
  const what =
    message.type === 'template'
      ? `template <code>${escapeHtml(message.template?.name ?? message.template?.id ?? '?')}</code>${
          message.template?.language ? ` (${escapeHtml(message.template.language)})` : ''
        }`
      : 'text';
  const content =
    message.type === 'template'
      ? message.params.map((param, index) => `{{${index + 1}}} ${escapeHtml(param)}`).join('<br>')
      : escapeHtml(message.text ?? '');
  const document = message.document
    ? `<br>📄 <a href="${escapeHtml(message.document.url)}" rel="noreferrer">${escapeHtml(message.document.filename ?? message.document.url)}</a>`
    : '';
  return `<tr>${[
    cell(escapeHtml(message.receivedAt.toISOString())),
    cell(escapeHtml(message.api)),
    cell(`<code>${escapeHtml(maskPhone(message.to))}</code>`),
    cell(what),
    cell(content + document),
    cell(escapeHtml(message.clientReference ?? '')),
    cell(escapeHtml(message.statuses.join(' → '))),
  ].join('')}</tr>`;
}

/**
 * The sandbox's front page: every message it accepted (newest first) with
 * its parameters and the statuses reported so far, the templates it knows,
 * the last webhooks it sent, and a form to play a guardian replying. Every
 * value is escaped and phone numbers are masked, since people share
 * screenshots of pages like this.
 */
export function renderSandboxPage(
  messages: ReceivedMessage[],
  templates: SandboxTemplate[],
  deliveries: WebhookDelivery[],
): string {
  const table = (labels: string[], rows: string[], empty: string) =>
    rows.length
      ? `<table style="border-collapse: collapse; font-size: .9rem">${head(labels)}${rows.join('\n')}</table>`
      : `<p>${escapeHtml(empty)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bursar WhatsApp sandbox</title>
</head>
<body style="font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #1f2937">
<p style="font-size: .8rem; text-transform: uppercase; letter-spacing: .08em; color: #6b7280">Bursar WhatsApp sandbox — nothing reaches WhatsApp</p>
<h1 style="font-size: 1.5rem">Messages</h1>
${table(
  ['Received', 'API', 'To', 'What', 'Content', 'Reference', 'Statuses sent'],
  [...messages].reverse().map(messageRow),
  'No messages yet.',
)}
<h2 style="font-size: 1.2rem">A guardian replies</h2>
<form method="post" action="_sandbox/inbound">
<label>From (E.164) <input name="from" placeholder="+91…" required></label>
<label>Text <input name="text" value="STOP" required></label>
<label>API <select name="api"><option value="meta">Meta</option><option value="gupshup">Gupshup</option></select></label>
<button type="submit">Send to Bursar</button>
</form>
<h2 style="font-size: 1.2rem">Templates</h2>
${table(
  ['Id', 'Name', 'Language', 'Category', 'Body', 'Document header'],
  templates.map(
    (template) =>
      `<tr>${[
        cell(`<code>${escapeHtml(template.id)}</code>`),
        cell(escapeHtml(template.name)),
        cell(escapeHtml(template.language)),
        cell(escapeHtml(template.category)),
        cell(escapeHtml(template.bodyText)),
        cell(template.documentHeader ? 'yes' : 'no'),
      ].join('')}</tr>`,
  ),
  'No templates yet.',
)}
<h2 style="font-size: 1.2rem">Webhooks sent</h2>
${table(
  ['Sent', 'API', 'Kind', 'To', 'Answer', 'Attempts'],
  deliveries
    .slice(-50)
    .reverse()
    .map(
      (delivery) =>
        `<tr>${[
          cell(escapeHtml(delivery.sentAt.toISOString())),
          cell(escapeHtml(delivery.api)),
          cell(escapeHtml(delivery.kind)),
          cell(`<code>${escapeHtml(delivery.url)}</code>`),
          cell(
            escapeHtml(
              delivery.status === null
                ? `not delivered (${delivery.error ?? 'unreachable'})`
                : `HTTP ${delivery.status}`,
            ),
          ),
          cell(String(delivery.attempts)),
        ].join('')}</tr>`,
    ),
  'No webhooks sent yet.',
)}
<p>JSON for scripts: <a href="_sandbox/messages"><code>GET /_sandbox/messages</code></a></p>
</body>
</html>
`;
}
