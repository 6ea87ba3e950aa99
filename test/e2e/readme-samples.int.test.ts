import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanId, str, traceId, type JsonKeyValue, type JsonSpan } from '../helpers/otlp-payloads.ts';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// The README is the front door: its quick start is run here as written, and what it shows the
// server and the CLI printing is held to what they print today (times, which differ on every run,
// aside).

const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The body of the first fenced block (of `lang`, or any) that begins after `marker`. */
function blockAfter(marker: string, lang = ''): string {
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README has no ${JSON.stringify(marker)}`);
  const open = README.indexOf('```' + lang + '\n', at + marker.length);
  if (open < 0) throw new Error(`README has no block after ${JSON.stringify(marker)}`);
  const start = open + 3 + lang.length + 1;
  return README.slice(start, README.indexOf('\n```', start));
}

/** Times and the report's content hash differ on every run; all else must match. */
const normalize = (text: string) =>
  text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME')
    .replace(/`[0-9a-f]{64}`/g, '`HASH`')
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');

function cli(server: ServerUnderTest, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, PROMPTLINE_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', rej);
    child.once('close', (code) => res({ code, stdout, stderr }));
  });
}

/** The README's command line, as an argument list (its `# …` comment and `[optional]` parts left out). */
function argsOf(line: string): string[] {
  return line
    .replace(/#.*$/, '')
    .replace(/\[[^\]]*\]/g, '')
    .trim()
    .split(/\s+/)
    .slice(1);
}

/** The output a README `sh` block shows under a command as `#   …` comment lines. */
function commentedOutput(command: string): string {
  const lines = README.split('\n');
  const at = lines.indexOf(command);
  if (at < 0) throw new Error(`README has no line ${JSON.stringify(command)}`);
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('#')) break;
    out.push(line.replace(/^#( {3})?/, ''));
  }
  return out.join('\n');
}

const int = (key: string, value: number): JsonKeyValue => ({ key, value: { intValue: String(value) } });

/**
 * The drift sample's responses of support-answer through production: 40 in the baseline window the
 * README's command names and 40 in the last day. Output tokens grew from about 200 to about 440;
 * latency and the error rate (1 in 40, then 2) stayed where they were. Version 2, so the quick
 * start's version 3 (the impact sample) is not touched.
 */
function driftSpans(baselineFrom: Date, now: number): JsonSpan[] {
  const span = (which: string, i: number, startMs: number, latencyMs: number, outputTokens: number, error: boolean): JsonSpan => {
    const start = BigInt(startMs) * 1_000_000n;
    return {
      traceId: traceId(),
      spanId: spanId(),
      name: 'chat gpt-4o',
      kind: 3,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + BigInt(latencyMs) * 1_000_000n),
      attributes: [
        str('gen_ai.prompt.name', 'support-answer'),
        int('gen_ai.prompt.version', 2),
        str('promptline.prompt.alias', 'production'),
        str('gen_ai.provider.name', 'openai'),
        str('gen_ai.response.model', 'gpt-4o'),
        str('gen_ai.response.id', `chatcmpl-drift-${which}-${i}`),
        int('gen_ai.usage.output_tokens', outputTokens),
      ],
      ...(error ? { status: { code: 2, message: 'upstream timeout' } } : {}),
    };
  };
  const day = 86_400_000;
  return [
    ...Array.from({ length: 40 }, (_, i) => span('baseline', i, baselineFrom.getTime() + 2 * day + i * 600_000, 900 + ((i * 37) % 600), 170 + ((i * 7) % 60), i === 13)),
    ...Array.from({ length: 40 }, (_, i) => span('current', i, now - 3 * 3_600_000 + i * 120_000, 900 + ((i * 53) % 600), 400 + ((i * 11) % 80), i === 9 || i === 29)),
  ];
}

let server: ServerUnderTest;

beforeAll(async () => {
  // The drift sample's baseline window is a fixed one, older than the default span age allows once
  // a month has passed since it was written.
  server = await startServer({ env: { PROMPTLINE_MAX_SPAN_AGE: '36500d' } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (server) removeDir(server.dataDir);
});

describe('README samples', () => {
  // First: its responses go through production, as the quick start's span does (which then must not be among them).
  it('`promptline drift` prints what the README shows, for responses whose output tokens grew', async () => {
    const section = README.slice(README.indexOf('## Investigating from the command line'));
    const command = /^promptline drift .*$/m.exec(section)![0];
    const args = argsOf(command);
    const option = (name: string) => args[args.indexOf(name) + 1]!;
    const sent = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [str('service.name', 'support-bot')] }, scopeSpans: [{ spans: driftSpans(new Date(option('--baseline-from')), Date.now()) }] }] }) });
    expect(sent.status).toBe(200);
    expect(await sent.json()).toEqual({});
    const query = new URLSearchParams({ prompt: option('--prompt'), alias: option('--alias'), baseline: 'window', baseline_from: option('--baseline-from'), baseline_to: option('--baseline-to') });
    let counts = '';
    for (let i = 0; i < 200 && counts !== '40/40'; i++) {
      const a = (await (await fetch(`${server.url}/v1/drift?${query}`)).json()) as { baseline?: { responses: number }; current?: { responses: number } };
      counts = `${a.baseline?.responses}/${a.current?.responses}`;
      if (counts !== '40/40') await new Promise((res) => setTimeout(res, 50));
    }
    expect(counts, 'baseline/current responses stored').toBe('40/40');
    const run = await cli(server, args);
    expect(run.code, run.stderr).toBe(0);
    expect(normalize(run.stdout.trimEnd())).toBe(normalize(commentedOutput(command)));
  });

  it("the quick start's span, sent as written, gives the provenance the README shows", async () => {
    const section = README.slice(README.indexOf('## Quick start: one span in, its provenance out'));
    // The quick start's export, as the README writes it: its heredoc, with $NOW filled in.
    const heredoc = /<<JSON\n([\s\S]*?)\nJSON\n/.exec(section);
    expect(heredoc, 'the quick start sends its spans from a heredoc').not.toBeNull();
    const now = `${BigInt(Date.now()) * 1_000_000n}`;
    const body = heredoc![1]!.replaceAll('$NOW', now);
    const sent = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(sent.status).toBe(200);

    const shown = JSON.parse(blockAfter("provenance?response_id=chatcmpl-42'", 'json')) as Record<string, unknown>;
    let answer: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && !answer; i++) {
      const r = await fetch(`${server.url}/v1/provenance?response_id=chatcmpl-42`);
      if (r.status === 200) answer = (await r.json()) as Record<string, unknown>;
      else await new Promise((res) => setTimeout(res, 50));
    }
    expect(answer, 'the response is stored').toBeDefined();
    expect(typeof answer!.timestamp).toBe('string');
    expect({ ...answer, timestamp: 'TIME' }).toEqual({ ...shown, timestamp: 'TIME' });
  });

  it('`promptline impact` prints what the README shows', async () => {
    const command = blockAfter('## Investigating from the command line', 'sh').split('\n')[0]!;
    const run = await cli(server, argsOf(command));
    expect(run.code, run.stderr).toBe(0);
    const shown = blockAfter(command + '\n```'); // the block after the command's own
    expect(normalize(run.stdout.trimEnd())).toBe(normalize(shown));
  });

  it("`promptline report` prints the README's excerpt: each part in order, line for line", async () => {
    const section = README.slice(README.indexOf('## Investigating from the command line'));
    const command = /^promptline report .*$/m.exec(section)![0];
    const run = await cli(server, argsOf(command));
    expect(run.code, run.stderr).toBe(0);
    const printed = normalize(run.stdout);
    const shown = blockAfter(command + '\n```'); // the block after the command's own
    // The excerpt leaves parts out where it says "…"; every part it shows is printed, in its order.
    let from = 0;
    for (const part of normalize(shown).split('\n…\n')) {
      const at = printed.indexOf(part.trim(), from);
      expect(at, `printed report lacks, in order:\n${part}`).toBeGreaterThanOrEqual(0);
      from = at + part.trim().length;
    }
  });
});
