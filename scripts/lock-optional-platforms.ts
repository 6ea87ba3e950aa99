// Keeps `npm ci` working when the npm registry in use serves only some of a package's
// platform-specific optional dependencies (here: chdb's engine libraries for other platforms).
//
// npm leaves an optional dependency it cannot fetch out of package-lock.json, and `npm ci` then
// refuses the lock file as out of sync with package.json. This script adds such entries back,
// marked optional and limited to their platform, so npm skips them on every other platform
// without fetching them. Run it after any `npm install` that rewrites the lock file:
//
//   npm run lock:fix
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

type Entry = { version?: string; optional?: boolean; os?: string[]; cpu?: string[]; libc?: string[]; optionalDependencies?: Record<string, string>; license?: string };

const path = resolve(import.meta.dirname, '../package-lock.json');
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, Entry> };

function platformOf(name: string): Pick<Entry, 'os' | 'cpu' | 'libc'> | null {
  const os = ['darwin', 'linux', 'win32', 'freebsd'].find((o) => name.includes(o));
  const cpu = ['arm64', 'x64', 'ia32', 'arm'].find((c) => new RegExp(`[-_]${c}([-_]|$)`).test(name));
  if (!os || !cpu) return null;
  const libc = /[-_]musl\b/.test(name) ? ['musl'] : os === 'linux' && /[-_]gnu\b/.test(name) ? ['glibc'] : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [dep, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const at = `${key ? `${key}/` : ''}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (lock.packages[at] || lock.packages[hoisted]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d/.test(spec)) continue;
    lock.packages[hoisted] = { version: spec, license: entry.license, optional: true, ...platform };
    added++;
    console.log(`added ${hoisted}@${spec} (${platform.os![0]}/${platform.cpu![0]})`);
  }
}
if (added > 0) {
  const [root, ...rest] = Object.entries(lock.packages);
  lock.packages = Object.fromEntries([root!, ...rest.sort(([a], [b]) => a.localeCompare(b))]);
  writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
}
console.log(added > 0 ? `package-lock.json: ${added} platform entries added` : 'package-lock.json: nothing to add');
