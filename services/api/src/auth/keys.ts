import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type JSONWebKeySet } from 'jose';

/** The api's token-signing key (Ed25519) and the public JWKS other services verify with. */
export interface SigningKeys {
  privateKey: Awaited<ReturnType<typeof importPKCS8>>;
  kid: string;
  jwks: JSONWebKeySet;
}

const ALG = 'EdDSA';

async function fromPem(pem: string): Promise<SigningKeys> {
  const privateKey = await importPKCS8(pem, ALG, { extractable: true });
  const { d: _private, ...publicJwk } = await exportJWK(privateKey);
  const kid = createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url').slice(0, 16);
  return { privateKey, kid, jwks: { keys: [{ ...publicJwk, kid, alg: ALG, use: 'sig' }] } };
}

/** A fresh key pair, for tests and first start in development. */
export async function generateSigningKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  return exportPKCS8(privateKey);
}

/**
 * Loads the signing key from `JWT_PRIVATE_KEY` (PKCS#8 PEM) when set.
 * Otherwise, outside production, reads or creates one in `keyFile`
 * (`.data/jwt/` by default, git-ignored) so tokens survive restarts.
 */
export async function loadSigningKeys(options: {
  pem?: string;
  keyFile: string;
  production: boolean;
}): Promise<SigningKeys> {
  if (options.pem) return fromPem(options.pem.replaceAll('\\n', '\n'));
  if (options.production) throw new Error('JWT_PRIVATE_KEY must be set in production');
  try {
    return await fromPem(await readFile(options.keyFile, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pem = await generateSigningKeyPem();
  await mkdir(dirname(options.keyFile), { recursive: true });
  // 'wx' fails if another replica wrote it first; then read theirs.
  await writeFile(options.keyFile, pem, { mode: 0o600, flag: 'wx' }).catch(
    async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
  return fromPem(await readFile(options.keyFile, 'utf8'));
}
