import { createHmac, timingSafeEqual } from 'node:crypto';
import { sameSecret } from '../secret.js';

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** Hex HMAC-SHA256 of the exact body bytes with the app secret, as Meta signs webhooks. */
export function signMetaWebhook(rawBody: Buffer | string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/**
 * Verifies `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>`.
 * Any of `appSecrets` may match, so the old and the new secret both verify
 * while a rotation is under way. The signature is over the bytes Meta sent:
 * pass the raw body, never re-serialised JSON. A missing or malformed header,
 * or no secret, is `false`. Compared in constant time on equal-length buffers,
 * and every secret is tried, so the time taken says nothing about which
 * matched or how much of the signature was right.
 */
export function verifyMetaSignature(
  rawBody: Buffer,
  header: string | undefined,
  appSecrets: readonly string[],
): boolean {
  const match = SIGNATURE.exec(header?.trim() ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!, 'hex');
  let matched = false;
  for (const secret of appSecrets) {
    if (!secret) continue;
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    if (timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

/** The handshake's query: Express's `req.query`, a `URLSearchParams`, or a plain record. */
export type HandshakeQuery = URLSearchParams | Record<string, unknown>;

function queryValue(query: HandshakeQuery, name: string): string | undefined {
  const value = query instanceof URLSearchParams ? query.get(name) : query[name];
  return typeof value === 'string' ? value : undefined;
}

/** Meta's challenge is a number; anything else is not echoed (the receiver writes it back verbatim). */
const CHALLENGE = /^[A-Za-z0-9_.-]{1,256}$/;

/**
 * Meta's subscription handshake (`GET` with `hub.mode=subscribe`,
 * `hub.verify_token`, `hub.challenge`): the challenge to answer with (200,
 * text/plain) when the token is the one configured, else null (answer 403).
 * The token is compared in constant time.
 */
export function verifyMetaHandshake(query: HandshakeQuery, verifyToken: string): string | null {
  const mode = queryValue(query, 'hub.mode');
  const token = queryValue(query, 'hub.verify_token');
  const challenge = queryValue(query, 'hub.challenge');
  if (mode !== 'subscribe' || token === undefined || challenge === undefined || !verifyToken) return null;
  if (!sameSecret(token, verifyToken)) return null;
  return CHALLENGE.test(challenge) ? challenge : null;
}
