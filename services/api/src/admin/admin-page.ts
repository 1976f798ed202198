/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** What the login page shows: a message after a failed attempt, the email typed, or who is signed in. */
export interface LoginPageOptions {
  message?: string;
  email?: string;
  /** Set when a live session came with the request: the page offers the dashboard and signing out. */
  signedInAs?: string;
}

const STYLE = `body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:22rem;margin:12vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button{margin-top:1rem;padding:.5rem 1rem;font:inherit;cursor:pointer}
p[role=alert]{color:#a40e26;margin:0 0 .5rem}`;

/**
 * The dashboard's login page, rendered on the server: a plain form that posts
 * `application/x-www-form-urlencoded`, no script (the CSP allows none inline),
 * every value escaped.
 */
export function loginPage({ message, email = '', signedInAs }: LoginPageOptions = {}): string {
  const alert = message ? `<p role="alert">${escapeHtml(message)}</p>` : '';
  const session = signedInAs
    ? `<p>Signed in as ${escapeHtml(signedInAs)}. <a href="/admin/queues">Open the job dashboard</a></p>
<form method="post" action="/admin/logout"><button type="submit">Sign out</button></form><hr>`
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Bursar job dashboard: sign in</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Bursar job dashboard</h1>
${session}${alert}<form method="post" action="/admin/login">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
