import { randomUUID } from 'node:crypto';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { JWT_AUDIENCE, JWT_ISSUER } from '@bursar/contracts';
import { freshDatabase, startApp } from '@bursar/test-support';
import { createAuthenticator, jwksKeySource } from './auth.js';
import { createLogger } from './logger.js';
import { createUserStates } from './user-state.js';

const logger = createLogger('remote-auth-test', 'silent');

async function signingKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

/**
 * How notify, ai and any later service check a caller: against the api's JWKS
 * over HTTP (here a small server standing in for the api's endpoint) and the
 * user's row as it is now, in a real database, with the change listener.
 */
describe('a service verifying against the api JWKS', async () => {
  const { db, url: databaseUrl } = await freshDatabase();
  const [first, second] = await Promise.all([signingKey('k1'), signingKey('k2')]);
  const published: JSONWebKeySet = { keys: [first.jwk] };
  let fetches = 0;
  const jwksServer = express();
  jwksServer.get('/api/.well-known/jwks.json', (_req, res) => {
    fetches += 1;
    res.json(published);
  });
  const { url: apiUrl } = await startApp(jwksServer);

  const users = createUserStates({ db, listenUrl: databaseUrl, logger });
  const authenticator = createAuthenticator({
    keys: jwksKeySource({ url: `${apiUrl}/api/.well-known/jwks.json`, cooldownMs: 0 }),
    users,
  });
  const school = await db
    .insertInto('schools')
    .values({ name: 'Remote school', currency: 'INR', timezone: 'Asia/Kolkata', locale: 'en-IN' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const user = await db
    .insertInto('users')
    .values({
      email: `remote-${randomUUID()}@bursar.test`,
      name: 'Remote',
      role: 'school_admin',
      schoolId: school.id,
      passwordHash: 'not-used',
    })
    .returning('id')
    .executeTakeFirstOrThrow();

  const tokenFor = (key: Awaited<ReturnType<typeof signingKey>>, sub = user.id) =>
    new SignJWT({ role: 'school_admin', schoolId: school.id })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
      .setSubject(sub)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  const authenticate = async (token: string) =>
    authenticator.authenticate({ headers: { authorization: `Bearer ${token}` } } as never);

  it('verifies a token signed with a published key and fetches the set once', async () => {
    await expect(authenticate(await tokenFor(first))).resolves.toEqual({
      userId: user.id,
      role: 'school_admin',
      schoolId: school.id,
    });
    await authenticate(await tokenFor(first));
    expect(fetches).toBe(1);
  });

  it('refetches the set when a token names a key it has not seen (rotation)', async () => {
    published.keys.push(second.jwk);
    await expect(authenticate(await tokenFor(second))).resolves.toMatchObject({ userId: user.id });
    expect(fetches).toBe(2);
  });

  it('refuses a token whose key the api never published', async () => {
    const rogue = await signingKey('k3');
    await expect(authenticate(await tokenFor(rogue))).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it("follows the user's row: a role change and a disabling reach the service without a restart", async () => {
    const token = await tokenFor(first);
    await authenticate(token);
    await db.updateTable('users').set({ role: 'teacher' }).where('id', '=', user.id).execute();
    await expect.poll(async () => (await authenticate(token)).role, { timeout: 5_000 }).toBe('teacher');
    await db.updateTable('users').set({ status: 'disabled' }).where('id', '=', user.id).execute();
    await expect
      .poll(
        () =>
          authenticate(token).then(
            () => 'allowed',
            (error: { code?: string }) => error.code,
          ),
        { timeout: 5_000 },
      )
      .toBe('unauthenticated');
    await users.close();
  });
});
