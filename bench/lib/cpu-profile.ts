/**
 * CPU profiles of a server under load: start it with `cpuProfileNodeArgs(dir)`,
 * then `profiled(proc, dir, () => runLoad(…))` records V8's profile of just that
 * run (cpu-profile-preload.ts does the recording), and `summarizeCpuProfile`
 * says where the time went: self time by package, and the functions with the
 * most self and inclusive time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './paths.js';
import type { ManagedProcess } from './process.js';

const PRELOAD = fileURLToPath(new URL('./cpu-profile-preload.ts', import.meta.url));

/** Node arguments (after `--import tsx`) and environment that make a process profilable on SIGUSR2. */
export function cpuProfileSetup(dir: string): { nodeArgs: string[]; env: NodeJS.ProcessEnv } {
  return { nodeArgs: ['--import', PRELOAD], env: { BENCH_CPU_PROFILE_DIR: dir } };
}

/** Runs `work` with the process's profiler on; resolves with its result and the profile file. */
export async function profiled<T>(
  proc: ManagedProcess,
  dir: string,
  work: () => Promise<T>,
): Promise<{ result: T; file: string }> {
  let next = 1;
  while (existsSync(join(dir, `${next}.cpuprofile`))) next += 1;
  const file = join(dir, `${next}.cpuprofile`);
  process.kill(proc.pid, 'SIGUSR2');
  await sleep(300); // the profiler starts asynchronously
  const result = await work();
  process.kill(proc.pid, 'SIGUSR2');
  const deadline = Date.now() + 30_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline || proc.hasExited())
      throw new Error(`${proc.name} wrote no CPU profile to ${file}`);
    await sleep(100);
  }
  return { result, file };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which package a script belongs to: the npm package, a workspace package, or node itself. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node core';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [first, second] = path.slice(modules + '/node_modules/'.length).split('/');
    return first?.startsWith('@') ? `${first}/${second}` : (first ?? path);
  }
  const local = relative(repoRoot, path);
  const workspace = /^(packages|services)\/([^/]+)\//.exec(local);
  if (workspace) return workspace[1] === 'packages' ? `@bursar/${workspace[2]}` : `services/${workspace[2]}`;
  return local.startsWith('..') ? path : local.split('/')[0]!;
}

export interface ProfileShare {
  name: string;
  ms: number;
  /** Percent of the busy (non-idle) time. */
  percent: number;
}

export interface CpuProfileSummary {
  /** Sampled time the thread was not idle. */
  busyMs: number;
  idleMs: number;
  byPackage: ProfileShare[];
  /** The same, with native and node-core frames charged to the nearest package up the stack that called them. */
  byCallingPackage: ProfileShare[];
  selfTop: ProfileShare[];
  /** Time in a function and everything it called (recursion counted once). */
  inclusiveTop: ProfileShare[];
}

function functionKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url
    ? `${packageOf(url, functionName)}:${relative(repoRoot, url.replace(/^file:\/\//, ''))
        .split('/')
        .pop()}:${lineNumber + 1}`
    : '';
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

export function summarizeCpuProfile(file: string, top = 15): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // The recorder's own frames (Profiler.stop building the profile) are not the server's work.
  const recorder = new Set<number>();
  const mark = (node: ProfileNode, inside: boolean) => {
    const here = inside || node.callFrame.url === pathToFileURL(PRELOAD).href;
    if (here) recorder.add(node.id);
    for (const child of node.children ?? []) mark(byId.get(child)!, here);
  };
  if (profile.nodes[0]) mark(profile.nodes[0], false);
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (!recorder.has(id)) selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });

  let idleMs = 0;
  const packages = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const name = packageOf(node.callFrame.url, node.callFrame.functionName);
    packages.set(name, (packages.get(name) ?? 0) + ms);
    const key = functionKey(node);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + ms);
  }
  const busyMs = [...packages.values()].reduce((a, b) => a + b, 0);

  // Inclusive: a node's own time plus its subtree's, credited once per function on each path.
  // On the way down, native and node-core frames take the package of their nearest JS caller.
  const inclusive = new Map<string, number>();
  const callingPackages = new Map<string, number>();
  const NOT_A_CALLER = new Set(['(native)', 'node core', '(root)', '(program)']);
  const root = profile.nodes[0];
  const walk = (node: ProfileNode, onPath: Set<string>, caller: string): number => {
    const key = functionKey(node);
    const fresh = !onPath.has(key);
    if (fresh) onPath.add(key);
    const own = packageOf(node.callFrame.url, node.callFrame.functionName);
    const charged = NOT_A_CALLER.has(own) && caller ? caller : own;
    const self = node.callFrame.functionName === '(idle)' ? 0 : (selfMs.get(node.id) ?? 0);
    if (self) callingPackages.set(charged, (callingPackages.get(charged) ?? 0) + self);
    let total = self;
    for (const child of node.children ?? []) {
      total += walk(byId.get(child)!, onPath, NOT_A_CALLER.has(own) ? caller : own);
    }
    if (fresh) {
      onPath.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + total);
    }
    return total;
  };
  if (root) walk(root, new Set(), '');
  inclusive.delete(functionKey(root!));

  const shares = (entries: Map<string, number>) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, percent: busyMs ? (ms * 100) / busyMs : 0 }));
  return {
    busyMs,
    idleMs,
    byPackage: shares(packages),
    byCallingPackage: shares(callingPackages),
    selfTop: shares(selfByFunction),
    inclusiveTop: shares(inclusive),
  };
}

export function formatCpuProfileSummary(summary: CpuProfileSummary, requests?: number): string {
  const line = (share: ProfileShare) =>
    `  ${share.percent.toFixed(1).padStart(5)}%  ${share.ms.toFixed(0).padStart(7)} ms` +
    `${requests ? `  ${((share.ms * 1000) / requests).toFixed(0).padStart(6)} µs/req` : ''}  ${share.name}`;
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms` +
      (requests
        ? `, ${requests} responses: ${((summary.busyMs * 1000) / requests).toFixed(0)} µs busy per response`
        : ''),
    'self time by package, native and node-core frames charged to the package that called them:',
    ...summary.byCallingPackage.map(line),
    'self time by package:',
    ...summary.byPackage.map(line),
    'functions by self time:',
    ...summary.selfTop.map(line),
    'functions by inclusive time (with what they call):',
    ...summary.inclusiveTop.map(line),
  ].join('\n');
}
