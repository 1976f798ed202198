import type { Delivery } from './sandbox.service.js';
import type { SandboxLink } from './sandbox.store.js';

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** An amount in minor units as people read it, in the currency's own digits (₹1,250.00). */
export function formatMinor(amountMinor: number, currency: string): string {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en-IN', { style: 'currency', currency }).resolvedOptions()
        .maximumFractionDigits ?? 2;
  } catch {
    return `${currency} ${amountMinor}`;
  }
  return new Intl.NumberFormat('en-IN', { style: 'currency', currency }).format(amountMinor / 10 ** digits);
}

// Inline styles only: the edge's CSP allows them, and scripts only from files.
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Bursar payment sandbox</title>
</head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1f2937">
<p style="font-size: .8rem; text-transform: uppercase; letter-spacing: .08em; color: #6b7280">Bursar payment sandbox — no real money moves</p>
${body}
</body>
</html>
`;
}

const button =
  'font-size: 1rem; padding: .6rem 1.4rem; border-radius: .4rem; border: 1px solid #d1d5db; cursor: pointer; margin-right: .5rem';

/** The pay page of one link: who is paid, for which invoice, how much, and Pay / Fail. */
export function renderPayPage(link: SandboxLink): string {
  const provider = link.provider === 'razorpay' ? 'Razorpay' : 'Stripe';
  const rows: [string, string][] = [
    ['For', link.description || '(no description)'],
    ['Invoice', link.notes.invoiceNumber ?? '(not given)'],
    ['School', link.notes.schoolId ?? '(not given)'],
    ['Provider', `${provider} (${link.id})`],
  ];
  const paid = link.status === 'paid';
  return page(
    `Pay ${formatMinor(link.amountMinor, link.currency)}`,
    `<h1 style="font-size: 2rem; margin: .5rem 0">${escapeHtml(formatMinor(link.amountMinor, link.currency))}</h1>
<dl style="display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem">
${rows.map(([label, value]) => `<dt style="color: #6b7280">${escapeHtml(label)}</dt><dd style="margin: 0">${escapeHtml(value)}</dd>`).join('\n')}
</dl>
${
  paid
    ? `<p><strong>Paid</strong> (${escapeHtml(link.paymentId ?? '')}).</p>`
    : `<form method="post" style="margin-top: 2rem">
<button type="submit" name="action" value="pay" style="${button}; background: #16a34a; color: white; border-color: #16a34a">Pay</button>
<button type="submit" name="action" value="fail" style="${button}">Fail</button>
</form>`
}`,
  );
}

/** What Pay or Fail did: each webhook sent to Bursar and how Bursar answered. */
export function renderResultPage(link: SandboxLink, action: 'pay' | 'fail', deliveries: Delivery[]): string {
  const ok = deliveries.every((delivery) => delivery.status === 200);
  const heading =
    action === 'pay'
      ? ok
        ? 'Paid: Bursar received the webhooks'
        : 'Paid, but Bursar did not accept every webhook'
      : 'Payment failed (as asked): Bursar was told';
  return page(
    heading,
    `<h1 style="font-size: 1.5rem">${escapeHtml(heading)}</h1>
<p>${escapeHtml(formatMinor(link.amountMinor, link.currency))} for invoice ${escapeHtml(link.notes.invoiceNumber ?? '(not given)')}.</p>
<ul>
${deliveries
  .map(
    (delivery) =>
      `<li><code>${escapeHtml(delivery.type)}</code> ${escapeHtml(delivery.eventId)}: ${
        delivery.status === null
          ? `not delivered (${escapeHtml(delivery.error ?? 'unreachable')})`
          : `HTTP ${delivery.status}`
      }</li>`,
  )
  .join('\n')}
</ul>
${link.returnUrl ? `<p><a href="${escapeHtml(link.returnUrl)}">Back to Bursar</a></p>` : ''}
<p><a href="${escapeHtml(link.id)}">Back to the pay page</a></p>`,
  );
}

/** The page for a reference the sandbox does not know. */
export function renderUnknownLink(reference: string): string {
  return page(
    'Unknown payment link',
    `<h1 style="font-size: 1.5rem">No such payment link</h1>
<p>The sandbox does not know <code>${escapeHtml(reference)}</code>. It keeps links in memory, so a restart of
billing-webhook forgets them: ask Bursar for a new payment link.</p>`,
  );
}

/** The sandbox's front page: every link it holds (newest first), each with its pay page. */
export function renderIndexPage(links: SandboxLink[]): string {
  const items = links
    .map(
      (link) =>
        `<li><a href="sandbox/pay/${encodeURIComponent(link.id)}">${escapeHtml(link.notes.invoiceNumber ?? link.id)}</a> — ${escapeHtml(formatMinor(link.amountMinor, link.currency))}, ${link.provider === 'razorpay' ? 'Razorpay' : 'Stripe'}, ${link.status}</li>`,
    )
    .join('\n');
  return page(
    'Payment links',
    `<h1 style="font-size: 1.5rem">Payment links</h1>
<p>Links the api created since billing-webhook started (the sandbox keeps them in memory). Ask for one with
<code>POST /api/invoices/:id/payment-link</code>, open its pay page, and press Pay: the provider's signed
webhooks come back to Bursar through Caddy.</p>
${items ? `<ul>\n${items}\n</ul>` : '<p>No links yet.</p>'}`,
  );
}
