// Compiles the service (src/) into dist/, the JavaScript that `npm pack` ships: an installed
// package runs it (bin/promptline), since Node strips no types under node_modules. The layout is
// the sources' own, and the files that are not TypeScript (the OTLP descriptor) are copied beside
// them, so what a module reads relative to itself is found in both. Run by prepack:
//
//   npm run build:cli
//
// @promptline/instrumentation is on no registry, so the package cannot depend on it: the one module
// of it the service runs (./render, the template renderer the apps use too) is compiled into
// dist/vendor/ from the instrumentation's sources and imported by a relative path.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
cpSync(join(root, 'src'), dist, { recursive: true, filter: (from) => statSync(from).isDirectory() || !from.endsWith('.ts') });

const INLINED = new Map([['@promptline/instrumentation/render', join(root, 'instrumentation/src/render.ts')]]);
const vendor = join(dist, 'vendor/instrumentation');
const vendored = (specifier: string) => join(vendor, `${basename(specifier)}.js`);
mkdirSync(vendor, { recursive: true });
for (const [specifier, file] of INLINED) {
  const { outputText: code } = ts.transpileModule(readFileSync(file, 'utf8'), { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2024, verbatimModuleSyntax: true } });
  // Compiled alone, so it must stand alone (its type imports are gone): an import would need the rest of the package.
  if (/^\s*(import|export)\s[^;]*\sfrom\s/m.test(code) || /^\s*import\s*["']/m.test(code) || /\bimport\(/.test(code)) throw new Error(`${specifier} (${relative(root, file)}) imports other modules: inline them too`);
  writeFileSync(vendored(specifier), code);
}

// The specifier of a static import or export, or of a dynamic import.
const importOfIt = /(\bfrom\s*|\bimport\s*\(\s*)(["'])(@promptline\/instrumentation[^"']*)\2/g;
for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).map((f) => join(dist, f))) {
  const code = readFileSync(file, 'utf8');
  const rewritten = code.replace(importOfIt, (_, lead: string, q: string, specifier: string) => {
    if (!INLINED.has(specifier)) throw new Error(`${relative(root, file)} imports ${specifier}, which the build does not inline`);
    const path = relative(dirname(file), vendored(specifier));
    return `${lead}${q}${path.startsWith('.') ? path : `./${path}`}${q}`;
  });
  if (rewritten !== code) writeFileSync(file, rewritten);
}
