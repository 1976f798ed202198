import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// The boundary rules are the repository's own .dependency-cruiser.mjs, run by the same CLI
// `pnpm lint` runs, over small workspaces laid out like this one (packages/*, services/*,
// node_modules/@bursar/* symlinked to the packages). One workspace keeps every rule; the other
// plants one violation per rule, each in its own file, so removing or loosening a rule fails
// the test that names it.

const root = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(root, '.dependency-cruiser.mjs');
const DEPCRUISE = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const run = promisify(execFile);

type Files = Record<string, string>;

const PACKAGES = ['contracts', 'db', 'ledger', 'platform', 'test-support'];
const SERVICES = ['ai', 'api', 'notify'];

/** A workspace that keeps every rule, with the kinds of edges the real one has. */
const CLEAN: Files = {
  'packages/contracts/src/index.ts':
    "import { randomUUID } from 'node:crypto';\nimport { z } from 'zod';\n" +
    'export const Id = z.string();\nexport const newId = () => randomUUID();\n',
  'packages/db/src/index.ts': "import { Kysely } from 'kysely';\nexport const db = Kysely;\n",
  'packages/ledger/src/index.ts':
    "import { Id } from '@bursar/contracts';\nimport { db } from '@bursar/db';\n" +
    'export const ledger = [Id, db];\n',
  'packages/ledger/src/ledger.test.ts':
    "import { fresh } from '@bursar/test-support';\nexport const t = fresh;\n",
  'packages/platform/src/index.ts':
    "import express from 'express';\nimport { Id } from '@bursar/contracts';\n" +
    'export const app = [express, Id];\n',
  'packages/platform/src/server.test.ts':
    "import { fresh } from '@bursar/test-support';\nexport const t = fresh;\n",
  'packages/test-support/src/index.ts':
    "import { createServer } from 'node:http';\nimport { db } from '@bursar/db';\n" +
    'export const fresh = [db, createServer];\n',
  'services/api/src/main.ts':
    "import { app } from '@bursar/platform';\nimport { ledger } from '@bursar/ledger';\n" +
    "import { local } from './local.js';\nexport const main = [app, ledger, local];\n",
  'services/api/src/local.ts': 'export const local = 1;\n',
  'services/ai/src/main.ts': 'export const main = 1;\n',
  'services/notify/src/main.ts':
    "import { app } from '@bursar/platform';\nimport { Id } from '@bursar/contracts';\n" +
    'export const main = [app, Id];\n',
};

/** One violation per file: the rule that must catch it, and the file that plants it. */
const PLANTED: { rule: string; file: string; source: string; to: RegExp }[] = [
  {
    rule: 'service-imports-service',
    file: 'services/api/src/by-name.ts',
    source: "export { main } from '@bursar/notify';\n",
    to: /^services\/notify\/src\/main\.ts$/,
  },
  {
    rule: 'service-imports-service',
    file: 'services/api/src/by-path.ts',
    source: "export { main } from '../../notify/src/main.js';\n",
    to: /^services\/notify\/src\/main\.ts$/,
  },
  {
    rule: 'package-imports-service',
    // A service that imports nothing, so that the planted edge does not also close a cycle.
    file: 'packages/test-support/src/uses-ai.ts',
    source: "export { main } from '@bursar/ai';\n",
    to: /^services\/ai\/src\/main\.ts$/,
  },
  {
    rule: 'contracts-only-zod',
    file: 'packages/contracts/src/uses-express.ts',
    source: "export type { Request } from 'express';\n",
    to: /node_modules\/express\//,
  },
  {
    rule: 'contracts-only-zod',
    file: 'packages/contracts/src/uses-db.ts',
    source: "export { db } from '@bursar/db';\n",
    to: /^packages\/db\/src\/index\.ts$/,
  },
  {
    rule: 'domain-imports-no-runtime',
    file: 'packages/ledger/src/uses-platform.ts',
    source: "export { app } from '@bursar/platform';\n",
    to: /^packages\/platform\/src\/index\.ts$/,
  },
  {
    rule: 'domain-imports-no-runtime',
    file: 'packages/ledger/src/uses-otel.ts',
    source: "export { trace } from '@opentelemetry/api';\n",
    to: /node_modules\/@opentelemetry\/api\//,
  },
  {
    rule: 'domain-imports-no-runtime',
    file: 'packages/db/src/uses-pino.ts',
    source: "export { default } from 'pino';\n",
    to: /node_modules\/pino\//,
  },
  {
    rule: 'not-to-unresolvable',
    file: 'services/notify/src/typo.ts',
    source: "export { main } from './mian.js';\n",
    to: /^\.\/mian\.js$/,
  },
];

/** test-support using the platform closes platform's tests → test-support → platform. */
const CYCLE: Files = {
  'packages/test-support/src/listen.ts': "export { app } from '@bursar/platform';\n",
};

/** Stand-ins for the npm packages the workspace imports, laid out as node_modules does. */
const NPM = ['zod', 'kysely', 'express', 'pino', '@opentelemetry/api'];

const made: string[] = [];
afterAll(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

async function workspace(files: Files): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bursar-boundaries-'));
  made.push(dir);
  const write = async (path: string, text: string) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  };
  await write(
    'tsconfig.json',
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
  );
  for (const [kind, names] of [
    ['packages', PACKAGES],
    ['services', SERVICES],
  ] as const)
    for (const name of names) {
      const entry = kind === 'packages' ? './src/index.ts' : './src/main.ts';
      const manifest = { name: `@bursar/${name}`, type: 'module', exports: { '.': entry } };
      await write(`${kind}/${name}/package.json`, JSON.stringify(manifest));
      await mkdir(join(dir, 'node_modules/@bursar'), { recursive: true });
      // As pnpm links workspace packages: the cruise must follow this to the real path.
      await symlink(join(dir, kind, name), join(dir, 'node_modules/@bursar', name), 'dir');
    }
  for (const name of NPM) {
    await write(`node_modules/${name}/package.json`, JSON.stringify({ name, main: 'index.js' }));
    await write(`node_modules/${name}/index.js`, 'module.exports = {};\n');
  }
  for (const [path, text] of Object.entries(files)) await write(path, text);
  return dir;
}

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

interface Cruise {
  violations: Violation[];
  modules: { source: string; dependencies: { module: string; resolved: string }[] }[];
}

function depcruise(dir: string, outputType: 'json' | 'err') {
  const args = [DEPCRUISE, '--config', CONFIG, '--output-type', outputType, 'packages', 'services'];
  return run(process.execPath, args, { cwd: dir, maxBuffer: 64 << 20 });
}

/** Runs the lint's cruise in `dir` and returns what it found. */
async function cruise(dir: string): Promise<Cruise> {
  const { stdout } = await depcruise(dir, 'json');
  const json = JSON.parse(stdout) as { modules: Cruise['modules']; summary: Cruise };
  return { violations: json.summary.violations, modules: json.modules };
}

/** The exit code and text of the cruise as `pnpm lint` runs it (only this reporter fails). */
async function lint(dir: string): Promise<{ code: number; stdout: string }> {
  return depcruise(dir, 'err').then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code ?? -1, stdout: error.stdout ?? '' }),
  );
}

describe('the boundary rules of .dependency-cruiser.mjs', () => {
  it('pass a workspace that keeps them, and see its cross-package edges', { timeout: 120_000 }, async () => {
    const dir = await workspace(CLEAN);
    const result = await cruise(dir);
    expect(result.violations).toEqual([]);
    expect((await lint(dir)).code).toBe(0);
    // Without following the symlinks the edges would end in node_modules/@bursar and no
    // rule about packages would ever match.
    const api = result.modules.find((module) => module.source === 'services/api/src/main.ts');
    expect(api?.dependencies.map((dependency) => dependency.resolved).sort()).toEqual([
      'packages/ledger/src/index.ts',
      'packages/platform/src/index.ts',
      'services/api/src/local.ts',
    ]);
  });

  it('fail a workspace with one planted violation of each rule', { timeout: 120_000 }, async () => {
    const planted = Object.fromEntries(PLANTED.map(({ file, source }) => [file, source]));
    const dir = await workspace({ ...CLEAN, ...planted, ...CYCLE });
    const result = await cruise(dir);
    for (const { rule, file, to } of PLANTED) {
      const found = result.violations.filter((v) => v.rule.name === rule && v.from === file);
      expect(found, `${rule} from ${file}`).toHaveLength(1);
      expect(found[0]?.to).toMatch(to);
      expect(found[0]?.rule.severity).toBe('error');
    }
    const cycles = result.violations.filter((v) => v.rule.name === 'no-workspace-cycle');
    expect(cycles.map((v) => `${v.from} → ${v.to}`).sort()).toEqual([
      'packages/platform/src → packages/test-support/src',
      'packages/test-support/src → packages/platform/src',
    ]);
    // Nothing but what was planted: each rule is exact, not merely noisy.
    expect(result.violations).toHaveLength(PLANTED.length + cycles.length);
    const { code, stdout } = await lint(dir);
    expect(code).not.toBe(0);
    expect(stdout).toContain('error domain-imports-no-runtime: packages/ledger/src/uses-platform.ts');
  });
});
