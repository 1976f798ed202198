import { fileURLToPath } from 'node:url';

/** The repository root, whatever directory `pnpm bench` was started from. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Where result JSON and child-process logs go (git-ignored). */
export const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
