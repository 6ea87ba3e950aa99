import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

// The Python SDK (instrumentation-python/, the `promptline` package) is tested by its own pytest
// suite, which starts real `promptline serve` processes and an OpenAI-compatible fake itself. This
// runs that suite with the repository's venv (.venv, made by scripts/python-env.sh from the lock
// file, with the package installed editable), so `npm test` covers it.

const ROOT = resolve(import.meta.dirname, '../..');
// PROMPTLINE_TEST_PYTHON names another interpreter with the same packages (a developer's own venv).
const PYTHON = process.env.PROMPTLINE_TEST_PYTHON ?? join(ROOT, '.venv/bin/python');

it('the promptline Python package passes its pytest suite', async () => {
  expect(existsSync(PYTHON), `${PYTHON} is missing: make the venv with scripts/python-env.sh`).toBe(true);
  // The suite's servers run on the project's Node 24 (node_modules/.bin/node), not this process's.
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  for (const k of ['NEO4J_URL', 'NEO4J_USER', 'NEO4J_PASSWORD', 'CLICKHOUSE_URL', 'PROMPTLINE_API_KEY', 'PROMPTLINE_URL']) delete env[k];
  const child = spawn(PYTHON, ['-m', 'pytest', 'instrumentation-python/tests', '-q', '-p', 'no:cacheprovider'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (c) => res(c));
  });
  if (code !== 0) console.error(`pytest exited with ${code}:\n${out}`);
  expect(code, `pytest output:\n${out}`).toBe(0);
}, 600_000);
