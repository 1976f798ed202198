import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** A file of the repository, as text. */
export const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Compose variable substitution with an empty environment: `$$` -> `$`, defaults applied. */
export function interpolate(value: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_]\w*)(?::?([-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g,
    (match, braced?: string, op?: string, arg?: string) => {
      if (match === '$$') return '$';
      if (op === '?') throw new Error(`${braced} is required by docker-compose.yml: ${arg}`);
      return op === '-' ? (arg ?? '') : '';
    },
  );
}

/** {@link interpolate} on every string of a parsed YAML document. */
export function interpolateAll(node: unknown): unknown {
  if (typeof node === 'string') return interpolate(node);
  if (Array.isArray(node)) return node.map(interpolateAll);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateAll(value)]));
  }
  return node;
}

/** A compose `environment` (or `build.args`): a map or a list of `KEY=value`, as a map. */
export function toMap(value: Record<string, string> | string[] | undefined): Record<string, string> {
  if (!value) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((entry) => [entry.split('=')[0], entry.slice(entry.indexOf('=') + 1)]),
    );
  }
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, v == null ? '' : String(v)]));
}
