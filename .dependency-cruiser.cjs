// The layering of src/ (docs/architecture.md), checked by `npm run lint` and so by CI.
// Bottom to top: common ← domain ← storage ports (src/storage/*.ts) ← adapters (src/storage/<backend>/);
// the services and the API sit on the ports; only the composition (server, cli, config) names a backend.
// An import points down, or sideways within its own folder.

const COMMON = '^src/common/';
const DOMAIN = '^src/domain/';
const PORTS = '^src/storage/[^/]+\\.ts$';
const ADAPTERS = '^src/storage/[^/]+/';
const SERVICES = '^src/(ingest|registry|governance|impact|reports)/';
const API = '^src/api/';
const COMPOSITION = '^src/(server\\.ts|cli\\.ts|cli/|config\\.ts)';
const TOOLING = '^(test|bench|scripts|examples)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes the load order decide what is initialised; break it by moving the shared part down a layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'common-imports-nothing-of-ours',
      severity: 'error',
      comment: 'src/common (errors, logger, clock) is the bottom layer: everything may use it, so it may use nothing of ours.',
      from: { path: COMMON },
      to: { path: '^(src|instrumentation)/', pathNot: COMMON },
    },
    {
      name: 'domain-imports-only-common',
      severity: 'error',
      comment: 'src/domain holds pure types and rules: no storage, service, API or composition code.',
      from: { path: DOMAIN },
      to: { path: '^(src|instrumentation)/', pathNot: [COMMON, DOMAIN] },
    },
    {
      name: 'ports-import-only-domain-and-common',
      severity: 'error',
      comment: 'A storage port (src/storage/*.ts) is an interface over domain types; it knows no backend and no service.',
      from: { path: PORTS },
      to: { path: '^(src|instrumentation)/', pathNot: [COMMON, DOMAIN, PORTS] },
    },
    {
      name: 'adapter-imports-only-its-ports',
      severity: 'error',
      comment: 'An adapter implements ports with domain types, inside its own folder; it never reaches another backend, a service, the API or the composition.',
      from: { path: '^src/storage/([^/]+)/' },
      to: { path: '^(src|instrumentation)/', pathNot: [COMMON, DOMAIN, PORTS, '^src/storage/$1/'] },
    },
    {
      name: 'services-not-to-adapters',
      severity: 'error',
      comment: 'Services use the storage ports; which backend serves them is for the composition to choose.',
      from: { path: SERVICES },
      to: { path: ADAPTERS },
    },
    {
      name: 'services-not-to-api',
      severity: 'error',
      comment: 'Services do not know they are served over HTTP: the API calls them, not the other way round.',
      from: { path: SERVICES },
      to: { path: API },
    },
    {
      name: 'api-not-to-adapters',
      severity: 'error',
      comment: 'The API reaches stores only through services and ports; the composition hands it the adapters.',
      from: { path: API },
      to: { path: ADAPTERS },
    },
    {
      name: 'only-composition-imports-composition',
      severity: 'error',
      comment: 'server, cli and config are the top: nothing below them imports them.',
      from: { path: '^src/', pathNot: COMPOSITION },
      to: { path: COMPOSITION },
    },
    {
      name: 'src-not-to-tooling',
      severity: 'error',
      comment: 'The service ships without its tests, benchmarks, scripts and examples.',
      from: { path: '^src/' },
      to: { path: TOOLING },
    },
    {
      name: 'src-to-instrumentation-by-package-name',
      severity: 'error',
      comment: 'src/ may use @promptline/instrumentation as a package (by its name), never by a path into its folder.',
      from: { path: '^src/' },
      to: { path: '^instrumentation/', dependencyTypesNot: ['aliased-workspace'] },
    },
    {
      name: 'instrumentation-stands-alone',
      severity: 'error',
      comment: '@promptline/instrumentation is published on its own: its sources import only themselves and their own dependencies.',
      from: { path: '^instrumentation/src/' },
      to: { path: '^(src|test|bench|scripts|examples|instrumentation/test)/' },
    },
    {
      name: 'instrumentation-not-to-service',
      severity: 'error',
      comment: 'Not even the instrumentation tests import the service: they test the package as an app would use it.',
      from: { path: '^instrumentation/' },
      to: { path: '^src/' },
    },
    {
      name: 'console-talks-only-to-the-api',
      severity: 'error',
      comment: 'The browser console is a client of the public API: it imports none of the service, the instrumentation or the tests, and nothing imports it.',
      from: { path: '^console/' },
      to: { path: '^(src|test|bench|scripts|examples|instrumentation)/' },
    },
    {
      name: 'nothing-imports-the-console',
      severity: 'error',
      comment: 'The server serves the built console as files; no code depends on its sources.',
      from: { pathNot: '^console/' },
      to: { path: '^console/' },
    },
    {
      name: 'production-not-to-dev-dependencies',
      severity: 'error',
      comment: 'A devDependency is not installed in production (npm ci --omit=dev); types alone are fine.',
      from: { path: '^(src|instrumentation/src)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file (a wrong path or extension, a package not installed).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'A package used but not declared in the nearest package.json installs by accident, if at all.',
      // The instrumentation's tests run on the root workspace's dev tools (vitest, the OpenAI SDK).
      from: { pathNot: '^instrumentation/test/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A service or package module that nothing imports and that imports nothing is dead; entries are exempt.',
      from: { orphan: true, path: '^(src|instrumentation/src)/', pathNot: ['^src/cli\\.ts$', '^instrumentation/src/index\\.ts$', '\\.d\\.ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^instrumentation/dist/', '^console/dist/', '^\\.promptline/', '^\\.cache/'] },
    // Type-only imports count: a port importing an adapter's type is still a wrong direction.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Relative imports name their .ts file (allowImportingTsExtensions); the repo's own packages
    // resolve to their sources through the @promptline/source condition, as in the tests.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@promptline/source', 'import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
