// Where a server's JavaScript thread spent its time, from the --cpu-prof profile a benchmark run
// wrote (BENCH_PROFILE_DIR=DIR npm run bench): the functions with the most self time, and the same
// by source file, as shares of the busy time (idle left out), as Markdown tables.
//
//   npm run bench:profile-top -- DIR_OR_FILE [--top 25]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const target = positionals[0];
if (!target) throw new Error('usage: profile-top.ts DIR_OR_FILE [--top N]');
const top = Number(values.top);
const ROOT = resolve(import.meta.dirname, '..');
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];

/** A source location as a path in the checkout (or the module's own name for Node's and the engine's). */
const where = (url: string) => (url.startsWith('file://') ? relative(ROOT, new URL(url).pathname) : url);

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const native = cf.functionName.startsWith('(') ? cf.functionName : `(${cf.functionName || 'native code'})`;
    const src = cf.url ? where(cf.url) : native;
    const fn = `${cf.functionName || (cf.url ? '(anonymous)' : '(native code)')} ${cf.url ? `${src}:${cf.lineNumber + 1}` : ''}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(src, (byFile.get(src) ?? 0) + us);
  }
  const share = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1)} %`;
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `| \`${k.replaceAll('|', '\\|')}\` | ${(us / 1000).toFixed(0)} | ${share(us)} |`);
  console.log(`${basename(file)}: ${(busy / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle on the main thread\n`);
  console.log(['| function (self time) | ms | of busy |', '| --- | --- | --- |', ...rows(byFunction)].join('\n'));
  console.log();
  console.log(['| source | ms | of busy |', '| --- | --- | --- |', ...rows(byFile)].join('\n'));
  console.log();
}
