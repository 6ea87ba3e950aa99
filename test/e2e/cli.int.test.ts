import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliasHistoryAnswer, aliasMoveAnswer, diffAnswer, promptListAnswer, promptVersionAnswer, resolveAnswer, versionListAnswer } from '../../src/api/registry-schemas.ts';
import { freePort, removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// The promptline CLI as a user runs it: a child process talking HTTP to a real `promptline serve`.

const ROOT = resolve(import.meta.dirname, '../..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('promptline prompts / alias (the CLI against a running server)', () => {
  let server: ServerUnderTest;
  let files: string;

  function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((res, rej) => {
      const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, PROMPTLINE_URL: server.url, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', rej);
      child.once('close', (code) => res({ code, stdout, stderr }));
    });
  }

  /** Runs a command that must succeed; fails with its stderr otherwise. */
  async function ok(args: string[]): Promise<string> {
    const r = await cli(args);
    expect(r.code, `promptline ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r.stdout;
  }

  async function json(args: string[]): Promise<unknown> {
    return JSON.parse(await ok([...args, '--json']));
  }

  beforeAll(async () => {
    server = await startServer();
    files = tempDataDir('promptline-cli-files-');
  });

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
    if (files) removeDir(files);
  });

  it('registers versions from --text, from a file and from a chat JSON file', async () => {
    expect(await ok(['prompts', 'register', 'support-answer', '--text', 'Answer {{question}} politely.', '-m', 'first cut', '--tag', 'support']))
      .toMatch(/^registered prompts:\/support-answer\/1 \(sha256 [0-9a-f]{12}…\)\n$/);

    const file = join(files, 'v2.txt');
    writeFileSync(file, 'Answer {{question}} politely.\nCite the knowledge base.\n');
    expect(await ok(['prompts', 'register', 'support-answer', '--file', file, '--message', 'cite sources'])).toMatch(/^registered prompts:\/support-answer\/2 /);

    const chat = join(files, 'chat.json');
    writeFileSync(chat, JSON.stringify([{ role: 'system', content: 'You are a support agent.' }, { role: 'user', content: '{{question}}' }]));
    const v3 = promptVersionAnswer.parse(await json(['prompts', 'register', 'support-answer', '--chat', chat, '-m', 'as chat', '--tag', 'a', '--tag', 'b', '--base', '1']));
    expect(v3).toMatchObject({ name: 'support-answer', version: 3, uri: 'prompts:/support-answer/3', tags: ['a', 'b'], baseVersion: 1, commitMessage: 'as chat' });
    expect(v3.template).toEqual({ type: 'chat', messages: [{ role: 'system', content: 'You are a support agent.' }, { role: 'user', content: '{{question}}' }] });
  });

  it('gets the latest version by name, a version by URI, and the version an alias points at', async () => {
    const latest = await ok(['prompts', 'get', 'support-answer']);
    const [header, ...body] = latest.split('\n');
    expect(header).toMatch(/^prompts:\/support-answer\/3 {2}"as chat" {2}by local development \(no auth\) {2}at \d{4}-\d\d-\d\dT/);
    expect(body.join('\n')).toBe('[system]\nYou are a support agent.\n\n[user]\n{{question}}\n');

    expect(await ok(['prompts', 'get', 'prompts:/support-answer/1'])).toMatch(/^prompts:\/support-answer\/1 {2}"first cut" .*\nAnswer \{\{question\}\} politely\.\n$/);

    await ok(['alias', 'set', 'support-answer', 'production', '2', '--reason', 'ship it']);
    const viaAlias = await ok(['prompts', 'get', 'prompts:/support-answer@production']);
    expect(viaAlias).toMatch(/^prompts:\/support-answer\/2 {2}"cite sources" .*\nAnswer \{\{question\}\} politely\.\nCite the knowledge base\.\n$/);
    expect(await ok(['prompts', 'get', 'support-answer@production'])).toBe(viaAlias);

    const r = resolveAnswer.parse(await json(['prompts', 'get', 'support-answer@production']));
    expect(r).toMatchObject({ alias: 'production', version: { version: 2 } });
  });

  it('lists prompts, and the versions of one prompt newest first', async () => {
    await ok(['prompts', 'register', 'other-prompt', '--text', 'Hi', '-m', 'hello']);
    const table = (await ok(['prompts', 'list'])).trimEnd().split('\n');
    expect(table[0]).toMatch(/^NAME\s+LATEST\s+ALIASES$/);
    expect(table).toContainEqual(expect.stringMatching(/^support-answer\s+3\s+production$/));
    expect(table).toContainEqual(expect.stringMatching(/^other-prompt\s+1$/));
    const all = promptListAnswer.parse(await json(['prompts', 'list']));
    expect(all.prompts.map((p) => p.name).sort()).toEqual(['other-prompt', 'support-answer']);

    const versions = (await ok(['prompts', 'list', 'support-answer'])).trimEnd().split('\n');
    expect(versions[0]).toMatch(/^VERSION\s+CREATED\s+AUTHOR\s+ALIASES\s+MESSAGE$/);
    expect(versions.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['3', '2', '1']);
    expect(versions[1]).toMatch(/^3\s+\d{4}-\S+\s+local development \(no auth\)\s+as chat$/);
    expect(versions[2]).toMatch(/^2\s+\S+\s+local development \(no auth\)\s+production\s+cite sources$/);
    const list = versionListAnswer.parse(await json(['prompts', 'list', 'support-answer']));
    expect(list.versions.map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it('prints the unified diff between two versions', async () => {
    const d = await ok(['prompts', 'diff', 'support-answer', '1', '2']);
    expect(d).toContain('--- support-answer/1');
    expect(d).toContain('+++ support-answer/2');
    expect(d).toContain('+Cite the knowledge base.');
    const parsed = diffAnswer.parse(await json(['prompts', 'diff', 'support-answer', '1', '2']));
    expect(parsed).toMatchObject({ from: 1, to: 2, type: 'text', added: 1, removed: 0 });
  });

  it('moves an alias, splits it, rolls it back, and shows the history with the rollback', async () => {
    expect(await ok(['alias', 'set', 'support-answer', 'production', '3', '--reason', 'chat format'])).toBe('production: v2 → v3 (move 2)\n');
    expect(await ok(['alias', 'rollback', 'support-answer', 'production', '--reason', 'chat answers too long'])).toBe('production: v3 → v2 (move 3, rollback)\n');
    expect(await ok(['alias', 'set', 'support-answer', 'production', '--split', '2:90,3:10', '--reason', 'try chat on 10%'])).toBe('production: v2 → v2 90% / v3 10% (move 4)\n');

    // A split alias needs a key to pick an arm; with one, the answer says which.
    const noKey = await cli(['prompts', 'get', 'support-answer@production']);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/give a key/);
    const keyed = resolveAnswer.parse(await json(['prompts', 'get', 'support-answer@production', '--key', 'user-42']));
    expect([2, 3]).toContain(keyed.version.version);
    expect(keyed.assignment).toMatchObject({ key: 'user-42', version: keyed.version.version });

    const history = (await ok(['alias', 'history', 'support-answer', 'production'])).trimEnd().split('\n');
    expect(history[0]).toMatch(/^MOVE\s+TIME\s+ACTOR\s+FROM → TO\s+REASON$/);
    expect(history.slice(1)).toEqual([
      expect.stringMatching(/^1\s+\d{4}-\S+\s+local development \(no auth\)\s+none → v2\s+"ship it"$/),
      expect.stringMatching(/^2\s+\S+\s+local development \(no auth\)\s+v2 → v3\s+"chat format"$/),
      expect.stringMatching(/^3\s+\S+\s+local development \(no auth\)\s+v3 → v2\s+"chat answers too long"\s+\(rollback\)$/),
      expect.stringMatching(/^4\s+\S+\s+local development \(no auth\)\s+v2 → v2 90% \/ v3 10%\s+"try chat on 10%"$/),
    ]);

    const h = aliasHistoryAnswer.parse(await json(['alias', 'history', 'support-answer', 'production']));
    expect(h.moves.map((m) => [m.seq, m.rollback])).toEqual([[1, false], [2, false], [3, true], [4, false]]);
    const moved = aliasMoveAnswer.parse(await json(['alias', 'set', 'support-answer', 'production', 'v3', '--reason', 'chat wins']));
    expect(moved).toMatchObject({ seq: 5, to: { version: 3, split: null }, rollback: false });
    const back = aliasMoveAnswer.parse(await json(['alias', 'rollback', 'support-answer', 'production', '--reason', 'undo']));
    expect(back).toMatchObject({ seq: 6, rollback: true, to: { version: null, split: { arms: [{ version: 2, weight: 90 }, { version: 3, weight: 10 }] } } });
  });

  it('prints help, and usage with exit 2 for unknown commands and missing arguments', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['serve', 'prompts register', 'prompts get', 'prompts list', 'prompts diff', 'alias set', 'alias history', 'alias rollback']) expect(help.stdout).toContain(`promptline ${c}`);
    for (const group of ['prompts', 'alias']) {
      const r = await cli([group, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage:/);
    }
    const cases: string[][] = [['bogus'], ['prompts'], ['prompts', 'frobnicate'], ['prompts', 'get'], ['prompts', 'diff', 'support-answer', '1'], ['alias', 'history', 'support-answer'], ['prompts', 'register', 'x', '--text', 'hi'], ['prompts', 'register', 'x', '-m', 'no template'], ['prompts', 'get', 'x', '--bogus']];
    for (const args of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/Usage:/);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  });

  it('says what the server refused, with exit 1, for an unknown prompt', async () => {
    const r = await cli(['prompts', 'get', 'no-such-prompt']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('promptline: prompt no-such-prompt has no versions (not_found, HTTP 404)\n');
    const diff = await cli(['prompts', 'diff', 'support-answer', '1', '9']);
    expect(diff.code).toBe(1);
    expect(diff.stderr).toContain('prompt support-answer has no version 9');
    const rollback = await cli(['alias', 'rollback', 'other-prompt', 'production', '--reason', 'x']);
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toContain('prompt other-prompt has no alias production');
  });

  it('refuses bad split syntax and a missing --reason before calling the server (exit 2)', async () => {
    for (const split of ['2-90,3-10', '2:90', 'two:50,three:50', '2:0,3:100']) {
      const r = await cli(['alias', 'set', 'support-answer', 'production', '--split', split, '--reason', 'x']);
      expect(r.code, split).toBe(2);
      expect(r.stderr, split).toMatch(/^promptline: .*split/);
    }
    for (const args of [['alias', 'set', 'support-answer', 'production', '2'], ['alias', 'set', 'support-answer', 'production', '2', '--reason', '  '], ['alias', 'rollback', 'support-answer', 'production']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^promptline: --reason is required/);
    }
    // Nothing of it reached the server: the alias is where the last test left it.
    const h = aliasHistoryAnswer.parse(await json(['alias', 'history', 'support-answer', 'production']));
    expect(h.moves).toHaveLength(6);
  });

  it('says clearly when no server is running (exit 1)', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['prompts', 'list'], { PROMPTLINE_URL: nowhere });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`promptline: cannot reach the Promptline server at ${nowhere} (connection refused): start it with "promptline serve", or point --url or PROMPTLINE_URL at it\n`);
    // --url wins over PROMPTLINE_URL.
    const viaFlag = await cli(['prompts', 'list', '--url', server.url], { PROMPTLINE_URL: nowhere });
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.stdout).toContain('support-answer');
  });
});

describe('the CLI says what to do about a key or a file', () => {
  let server: ServerUnderTest;
  const ADMIN = `admin-${'k'.repeat(24)}`;
  const run = (args: string[], env: Record<string, string | undefined>): Promise<Run> =>
    new Promise((res, rej) => {
      const base: Record<string, string | undefined> = { ...process.env, PROMPTLINE_URL: server.url };
      delete base.PROMPTLINE_API_KEY;
      const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', rej);
      child.once('close', (code) => res({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN } });
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('names PROMPTLINE_API_KEY when no key was sent, and says a key sent was refused (exit 1)', async () => {
    const none = await run(['prompts', 'list'], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/HTTP 401\); no API key was sent: set PROMPTLINE_API_KEY \(promptline keys create makes one\)\n$/);
    const wrong = await run(['prompts', 'list'], { PROMPTLINE_API_KEY: `wrong-${'x'.repeat(24)}` });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/HTTP 401\); the key in PROMPTLINE_API_KEY was not accepted/);
    const report = await run(['report', '--response-id', 'r-1'], {});
    expect(report.stderr).toMatch(/no API key was sent: set PROMPTLINE_API_KEY/);
    expect((await run(['prompts', 'list'], { PROMPTLINE_API_KEY: ADMIN })).code).toBe(0);
  });

  it('refuses a report --out in a directory that does not exist before asking the server (exit 2)', async () => {
    const r = await run(['report', '--response-id', 'r-1', '--out', '/no/such/dir/r.md'], { PROMPTLINE_API_KEY: ADMIN });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^promptline: --out \/no\/such\/dir\/r\.md: the directory \/no\/such\/dir does not exist\n/);
  });
});
