import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The layering rules of .dependency-cruiser.cjs (docs/architecture.md), run on a small tree of
// their own: every forbidden direction is refused by the rule named for it, the allowed ones pass,
// and the command exits non-zero, which is what fails `npm run lint` and so CI.

const ROOT = resolve(import.meta.dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');

/** file → the files it imports (paths from the tree's root). */
const TREE: Record<string, string[]> = {
  'src/common/errors.ts': [],
  'src/domain/span.ts': ['src/common/errors.ts'],
  'src/storage/span-store.ts': ['src/domain/span.ts', 'src/common/errors.ts'],
  'src/storage/sqlite/db.ts': [],
  'src/storage/sqlite/span-store.ts': ['src/storage/sqlite/db.ts', 'src/storage/span-store.ts', 'src/domain/span.ts', 'src/common/errors.ts'],
  'src/storage/neo4j/db.ts': [],
  'src/ingest/spool.ts': ['src/storage/span-store.ts'],
  'src/registry/service.ts': ['src/ingest/spool.ts', 'src/storage/span-store.ts', 'src/domain/span.ts'],
  'src/api/app.ts': ['src/registry/service.ts', 'src/storage/span-store.ts'],
  'src/config.ts': [],
  'src/server.ts': ['src/config.ts', 'src/api/app.ts', 'src/storage/sqlite/span-store.ts'],
  'src/cli.ts': ['src/server.ts'],
  'test/helpers/server.ts': [],
  'test/app.test.ts': ['src/storage/neo4j/db.ts', 'src/server.ts'],
  'instrumentation/src/index.ts': [],

  // Each of these breaks one rule.
  'src/common/up.ts': ['src/domain/span.ts'],
  'src/domain/up.ts': ['src/storage/span-store.ts'],
  'src/storage/up.ts': ['src/storage/sqlite/db.ts'],
  'src/storage/sqlite/other-backend.ts': ['src/storage/neo4j/db.ts'],
  'src/storage/sqlite/up.ts': ['src/registry/service.ts'],
  'src/registry/adapter.ts': ['src/storage/sqlite/db.ts'],
  'src/ingest/api.ts': ['src/api/app.ts'],
  'src/api/adapter.ts': ['src/storage/neo4j/db.ts'],
  'src/impact/composition.ts': ['src/config.ts'],
  'src/reports/tests.ts': ['test/helpers/server.ts'],
  'src/governance/instrumentation-path.ts': ['instrumentation/src/index.ts'],
  'instrumentation/src/service.ts': ['src/common/errors.ts'],
  'src/domain/cycle-a.ts': ['src/domain/cycle-b.ts'],
  'src/domain/cycle-b.ts': ['src/domain/cycle-a.ts'],
  'src/reports/orphan.ts': [],
  'src/registry/unresolvable.ts': ['src/registry/missing.ts'],
};

const EXPECTED = [
  ['common-imports-nothing-of-ours', 'src/common/up.ts'],
  ['domain-imports-only-common', 'src/domain/up.ts'],
  ['ports-import-only-domain-and-common', 'src/storage/up.ts'],
  ['adapter-imports-only-its-ports', 'src/storage/sqlite/other-backend.ts'],
  ['adapter-imports-only-its-ports', 'src/storage/sqlite/up.ts'],
  ['services-not-to-adapters', 'src/registry/adapter.ts'],
  ['services-not-to-api', 'src/ingest/api.ts'],
  ['api-not-to-adapters', 'src/api/adapter.ts'],
  ['only-composition-imports-composition', 'src/impact/composition.ts'],
  ['src-not-to-tooling', 'src/reports/tests.ts'],
  ['src-to-instrumentation-by-package-name', 'src/governance/instrumentation-path.ts'],
  ['instrumentation-stands-alone', 'instrumentation/src/service.ts'],
  ['instrumentation-not-to-service', 'instrumentation/src/service.ts'],
  ['no-circular', 'src/domain/cycle-a.ts'], // one report a cycle
  ['no-orphans', 'src/reports/orphan.ts'],
  ['not-to-unresolvable', 'src/registry/unresolvable.ts'],
].map(([rule, from]) => `${rule}: ${from}`);

function importPath(from: string, to: string): string {
  const rel = join(...dirname(from).split('/').map(() => '..'), to);
  return rel.startsWith('.') ? rel : `./${rel}`;
}

describe('the layering rules (.dependency-cruiser.cjs)', () => {
  let dir: string;
  let result: { status: number | null; violations: string[] };

  beforeAll(() => {
    dir = tempDataDir('layering-');
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', allowImportingTsExtensions: true, noEmit: true } }));
    for (const [file, imports] of Object.entries(TREE)) {
      mkdirSync(join(dir, dirname(file)), { recursive: true });
      writeFileSync(join(dir, file), [...imports.map((to) => `import '${importPath(file, to)}';`), 'export {};', ''].join('\n'));
    }
    // The report `npm run lint:deps` prints (one `error RULE: FROM → TO` line a violation) and its exit code.
    const run = spawnSync(process.execPath, [DEPCRUISE, 'src', 'test', 'instrumentation/src', '--config', join(ROOT, '.dependency-cruiser.cjs')], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    if (!run.stdout) throw new Error(`dependency-cruiser printed nothing (exit ${run.status}):\n${run.stderr}`);
    const violations = [...run.stdout.matchAll(/^\s*error (\S+): (\S+)/gm)].map((m) => `${m[1]}: ${m[2]}`);
    result = { status: run.status, violations: violations.sort() };
  });
  afterAll(() => {
    if (dir) removeDir(dir);
  });

  it('refuses each forbidden direction by its own rule, and nothing that the layering allows', () => {
    expect(result.violations).toEqual([...EXPECTED].sort());
  });

  it('exits non-zero on a violation, so npm run lint and CI fail', () => {
    expect(result.status).not.toBe(0);
  });
});
