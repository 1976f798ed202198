/**
 * `pnpm db:migrate`: create the database if missing, then apply migrations.
 * `pnpm db:codegen`: regenerate `schema.ts` from a scratch database migrated to latest.
 * `pnpm db:codegen --verify`: fail when `schema.ts` differs from what the migrations produce.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { migrateDatabase } from './migrate.js';
import { createTemplateDatabase, dropTestDatabase } from './testing.js';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/bursar';
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Migrates `url` (creating the database if needed) and says what it did. */
export async function migrate(url: string): Promise<void> {
  const { created, applied } = await migrateDatabase(url);
  process.stdout.write(
    `${created ? 'created database; ' : ''}${applied.length ? `applied ${applied.join(', ')}` : 'already up to date'}\n`,
  );
}

/** Runs kysely-codegen against a scratch database; with `verify` it only compares. */
export async function codegen(serverUrl: string, verify: boolean): Promise<void> {
  const url = await createTemplateDatabase(serverUrl);
  try {
    execFileSync(
      'pnpm',
      [
        'exec',
        'kysely-codegen',
        '--url',
        url,
        '--config-file',
        '.kysely-codegenrc.json',
        ...(verify ? ['--verify'] : []),
      ],
      { cwd: packageDir, stdio: 'inherit' },
    );
  } finally {
    await dropTestDatabase(url);
  }
}

async function main(): Promise<void> {
  const [command, ...flags] = process.argv.slice(2);
  const url = process.env.DATABASE_URL ?? DEFAULT_URL;
  if (command === 'migrate') return migrate(url);
  if (command === 'codegen') return codegen(url, flags.includes('--verify'));
  throw new Error(`usage: cli.ts migrate | codegen [--verify]`);
}

// Compared through realpath: in a deployed image this file is reached through a pnpm symlink.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
