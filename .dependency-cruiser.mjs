// The import boundaries of the architecture ("Packages" and "Processes"), checked by
// `pnpm lint`. Paths are real paths: workspace packages are followed through their
// node_modules symlinks to packages/<name>/src, so an edge from one package to another is
// seen whether it is written as `@bursar/<name>` or as a relative path.
// tests/boundaries.test.ts plants a violation of each rule and expects it to be reported.

/** Runtime libraries that must not reach the money domain (ledger) or the database package. */
const RUNTIME =
  '^packages/platform/|(^|/)node_modules/(express|bullmq|ioredis|pino|pino-http|pino-pretty|@opentelemetry/[^/]+|jose|prom-client)/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'service-imports-service',
      comment:
        'A service never imports another service: what two processes need is a package; ' +
        'they talk through jobs declared in packages/contracts or the owner’s HTTP API.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/([^/]+)/', pathNot: '^services/$1/' },
    },
    {
      name: 'package-imports-service',
      comment: 'Packages are what services are built from, so a package never imports a service.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^services/' },
    },
    {
      name: 'contracts-only-zod',
      comment:
        'packages/contracts is the shared vocabulary of every process and depends on zod ' +
        'only (node built-ins are allowed, nothing else from npm or the workspace).',
      severity: 'error',
      from: { path: '^packages/contracts/' },
      to: {
        pathNot: ['^packages/contracts/', '(^|/)node_modules/zod/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'domain-imports-no-runtime',
      comment:
        'The ledger and db are plain functions over kysely; importing the platform or a ' +
        'runtime library drags express, BullMQ, OpenTelemetry and prom-client into the money ' +
        'domain and into every script that touches the database.',
      severity: 'error',
      from: { path: '^packages/(ledger|db)/' },
      to: { path: RUNTIME },
    },
    {
      name: 'no-workspace-cycle',
      comment:
        'Workspace packages depend on each other one way only, tests included: a cycle (say ' +
        'platform’s tests using test-support, which uses platform) makes build order and ' +
        'ownership ambiguous. Checked on folders, because a package cycle is rarely a module ' +
        'cycle (nothing imports the test file that closes it).',
      severity: 'error',
      scope: 'folder',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^packages/', pathNot: '^packages/$1(/|$)', circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve cannot be checked against the rules above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^\\.data/', '^bench/results/', '^(packages|services)/[^/]+/dist/'] },
    preserveSymlinks: false,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    metrics: true,
    cache: false,
  },
};
