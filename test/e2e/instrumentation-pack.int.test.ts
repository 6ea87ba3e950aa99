import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic } from '../../examples/agent/fake-anthropic.ts';
import { startFakeOpenAI } from '../../examples/agent/fake-openai.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// `npm pack` of @promptline/instrumentation, installed from the tarball into an empty project
// with only its declared dependencies (from the npm cache where it can), and used there from plain
// JavaScript: register + loadPrompt + withLineage export a span to a real `promptline serve`.

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PKG = join(ROOT, 'instrumentation');
const API_KEY = 'pl-pack-bootstrap-admin-key-0123456789';
const declared = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };

let server: ServerUnderTest;
let work: string;
let tarball: string;
let files: string[];

// npm itself may run on an older Node than the tests; scripts it runs (prepack) use the project's.
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` }, maxBuffer: 32 * 1024 * 1024, timeout: 300_000 });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'promptline-pack-'));
  server = await startServer({ env: { PROMPTLINE_API_KEY: API_KEY } });
  const { stdout } = await npm(['pack', '--json', '--pack-destination', work], PKG);
  const packed = (JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
  tarball = join(work, packed.filename);
  files = packed.files.map((f) => f.path);
}, 300_000);

afterAll(async () => {
  if (server) {
    await server.stop();
    removeDir(server.dataDir);
  }
  if (work) removeDir(work);
});

describe('the packed @promptline/instrumentation', () => {
  it('holds the built JavaScript and type declarations, and no sources or tests', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/processor.js', 'dist/register.js']));
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md'].includes(f))).toEqual([]);
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
  });

  it('installs into an empty project with only its declared dependencies and works there on plain Node', async () => {
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'packed-app', version: '1.0.0', private: true, type: 'module' }));
    await npm(['install', '--prefer-offline', tarball], app);

    // Its dependencies and the peer API, nothing the service itself uses.
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/@promptline/instrumentation/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(installed.dependencies).toEqual(declared.dependencies);
    for (const dep of Object.keys(declared.dependencies)) expect(existsSync(join(app, 'node_modules', dep)), dep).toBe(true);
    expect(existsSync(join(app, 'node_modules/@opentelemetry/api')), 'the peer dependency').toBe(true);
    for (const absent of ['express', 'neo4j-driver', 'chdb', '@clickhouse/client', 'zod', 'typescript', 'openai', '@langchain/core', '@arizeai/openinference-instrumentation-langchain']) expect(existsSync(join(app, 'node_modules', absent)), absent).toBe(false);

    const version = await (await fetch(`${server.url}/v1/prompts/packed-greeting/versions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }, body: JSON.stringify({ template: 'Hello {{who}}', commitMessage: 'from the pack test' }) })).json() as { version: number; templateHash: string };
    const responseId = `chatcmpl-packed-${Date.now()}`;
    writeFileSync(
      join(app, 'main.js'),
      `import { trace } from '@opentelemetry/api';
import { register, loadPrompt, withLineage } from '@promptline/instrumentation';
const handle = register({ endpoint: process.env.PROMPTLINE_URL, apiKey: process.env.PROMPTLINE_API_KEY, serviceName: 'packed-app', serviceVersion: '1.0.0' });
const prompt = await loadPrompt('prompts:/packed-greeting/1');
const text = await withLineage({ prompt, datasets: ['pack-test'] }, async () =>
  trace.getTracer('packed-app').startActiveSpan('chat gpt-4o', (span) => {
    span.setAttributes({ 'gen_ai.response.id': process.env.RESPONSE_ID, 'gen_ai.response.model': 'gpt-4o-2024-08-06', 'gen_ai.provider.name': 'openai' });
    const rendered = prompt.format({ who: 'packed world' });
    span.end();
    return rendered;
  }));
await handle.shutdown();
console.log(text);
`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: app, env: { ...process.env, PROMPTLINE_URL: server.url, PROMPTLINE_API_KEY: API_KEY, RESPONSE_ID: responseId }, timeout: 60_000 });
    expect(stdout.trim()).toBe('Hello packed world');

    const p = await eventually(() => provenance(server.url, { response_id: responseId }), `provenance of ${responseId}`);
    expect(p).toMatchObject({ responseId, prompt: { name: 'packed-greeting', version: version.version, templateHash: version.templateHash, registered: true }, model: { name: 'gpt-4o-2024-08-06' }, datasets: [{ id: 'pack-test' }], app: { name: 'packed-app', version: '1.0.0' } });
  });

  it("instruments the app's own openai SDK, imported as an ES module or required as CommonJS after register()", async () => {
    const app = join(work, 'app');
    const openaiVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/openai/package.json'), 'utf8')) as { version: string }).version;
    await npm(['install', '--prefer-offline', `openai@${openaiVersion}`], app);
    const call = `withLineage({ prompt: { name: NAME, version: 1 } }, () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).withResponse())`;
    const report = `await handle.forceFlush();
  const span = exporter.getFinishedSpans().find((s) => s.attributes['gen_ai.response.id'] === data.id);
  console.log(JSON.stringify({ status: response.status, prompt: span?.attributes['gen_ai.prompt.name'], model: span?.attributes['gen_ai.response.model'] }));
  await handle.shutdown();`;
    writeFileSync(join(app, 'esm.mjs'), `import OpenAI from 'openai';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { register, withLineage } from '@promptline/instrumentation';
const NAME = 'esm-prompt';
const exporter = new InMemorySpanExporter();
const handle = register({ exporter, serviceName: 'esm-app', openai: true });
const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: 'sk-test', maxRetries: 0 });
const { data, response } = await ${call};
${report}
`);
    // CommonJS: required after register(), so OpenInference's require hook patches it.
    writeFileSync(join(app, 'cjs.cjs'), `const { register, withLineage } = require('@promptline/instrumentation');
const { InMemorySpanExporter } = require('@opentelemetry/sdk-trace');
const NAME = 'cjs-prompt';
const exporter = new InMemorySpanExporter();
const handle = register({ exporter, serviceName: 'cjs-app' });
const OpenAI = require('openai');
(async () => {
  const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: 'sk-test', maxRetries: 0 });
  const { data, response } = await ${call};
  ${report}
})();
`);
    const fake = await startFakeOpenAI();
    try {
      for (const [script, prompt] of [['esm.mjs', 'esm-prompt'], ['cjs.cjs', 'cjs-prompt']] as const) {
        const { stdout } = await run(process.execPath, [script], { cwd: app, env: { ...process.env, OPENAI_BASE_URL: fake.baseURL }, timeout: 60_000 });
        expect(JSON.parse(stdout.trim()), script).toEqual({ status: 200, prompt, model: 'gpt-4o-2024-08-06' });
      }
    } finally {
      await fake.close();
    }
  });

  it("instruments the app's own @anthropic-ai/sdk, imported as an ES module or required as CommonJS after register(), streams included", async () => {
    const app = join(work, 'app');
    const sdkVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/@anthropic-ai/sdk/package.json'), 'utf8')) as { version: string }).version;
    await npm(['install', '--prefer-offline', `@anthropic-ai/sdk@${sdkVersion}`], app);
    const body = `{ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }`;
    const calls = `const plain = await withLineage({ prompt: { name: NAME, version: 1 } }, () => client.messages.create(${body}));
  const streamed = await withLineage({ prompt: { name: NAME, version: 2 } }, () => client.messages.stream(${body}).finalMessage());
  await handle.forceFlush();
  const oi = (m) => exporter.getFinishedSpans().find((s) => s.name === 'Anthropic Messages' && s.attributes['gen_ai.response.id'] === m.id);
  console.log(JSON.stringify([plain, streamed].map((m) => ({ prompt: oi(m)?.attributes['gen_ai.prompt.name'], version: oi(m)?.attributes['gen_ai.prompt.version'], model: oi(m)?.attributes['gen_ai.response.model'] }))));
  await handle.shutdown();`;
    writeFileSync(join(app, 'anthropic-esm.mjs'), `import Anthropic from '@anthropic-ai/sdk';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { register, withLineage } from '@promptline/instrumentation';
const NAME = 'esm-prompt';
const exporter = new InMemorySpanExporter();
const handle = register({ exporter, serviceName: 'esm-app' });
const client = new Anthropic({ baseURL: process.env.ANTHROPIC_BASE_URL, apiKey: 'sk-ant-test', maxRetries: 0 });
${calls}
`);
    writeFileSync(join(app, 'anthropic-cjs.cjs'), `const { register, withLineage } = require('@promptline/instrumentation');
const { InMemorySpanExporter } = require('@opentelemetry/sdk-trace');
const NAME = 'cjs-prompt';
const exporter = new InMemorySpanExporter();
const handle = register({ exporter, serviceName: 'cjs-app' });
const Anthropic = require('@anthropic-ai/sdk');
(async () => {
  const client = new Anthropic({ baseURL: process.env.ANTHROPIC_BASE_URL, apiKey: 'sk-ant-test', maxRetries: 0 });
  ${calls}
})();
`);
    const fake = await startFakeAnthropic();
    try {
      for (const [script, prompt] of [['anthropic-esm.mjs', 'esm-prompt'], ['anthropic-cjs.cjs', 'cjs-prompt']] as const) {
        const { stdout } = await run(process.execPath, [script], { cwd: app, env: { ...process.env, ANTHROPIC_BASE_URL: fake.baseURL }, timeout: 60_000 });
        const model = 'claude-sonnet-4-5-20250929';
        expect(JSON.parse(stdout.trim()), script).toEqual([{ prompt, version: 1, model }, { prompt, version: 2, model }]);
      }
    } finally {
      await fake.close();
    }
  });

  it('instruments LangChain.js once the app installs the optional LangChain instrumentation, as an ES module or CommonJS', async () => {
    const app = join(work, 'app');
    const versionOf = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    const oi = '@arizeai/openinference-instrumentation-langchain';
    await npm(['install', '--prefer-offline', ...['@langchain/core', '@langchain/openai', oi].map((p) => `${p}@${versionOf(p)}`)], app);
    const call = `const answer = await withLineage({ prompt: { name: NAME, version: 1 } }, () =>
    ChatPromptTemplate.fromMessages([['human', '{question}']]).pipe(new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test', maxRetries: 0, configuration: { baseURL: process.env.OPENAI_BASE_URL } })).invoke({ question: 'hi' }));
  await handle.forceFlush();
  const span = exporter.getFinishedSpans().find((s) => s.name === 'ChatOpenAI');
  console.log(JSON.stringify({ prompt: span?.attributes['gen_ai.prompt.name'], id: span?.attributes['gen_ai.response.id'] === answer.id, model: span?.attributes['gen_ai.response.model'] }));
  await handle.shutdown();`;
    writeFileSync(join(app, 'langchain-esm.mjs'), `import { ChatPromptTemplate } from '@langchain/core/prompts';
import { ChatOpenAI } from '@langchain/openai';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { register, withLineage } from '@promptline/instrumentation';
const NAME = 'esm-chain';
const exporter = new InMemorySpanExporter();
const handle = register({ exporter, openai: false });
${call}
`);
    writeFileSync(join(app, 'langchain-cjs.cjs'), `const { register, withLineage } = require('@promptline/instrumentation');
const { InMemorySpanExporter } = require('@opentelemetry/sdk-trace');
const NAME = 'cjs-chain';
const exporter = new InMemorySpanExporter();
const handle = register({ exporter, openai: false });
const { ChatPromptTemplate } = require('@langchain/core/prompts');
const { ChatOpenAI } = require('@langchain/openai');
(async () => {
  ${call}
})();
`);
    const fake = await startFakeOpenAI();
    try {
      for (const [script, prompt] of [['langchain-esm.mjs', 'esm-chain'], ['langchain-cjs.cjs', 'cjs-chain']] as const) {
        const { stdout } = await run(process.execPath, [script], { cwd: app, env: { ...process.env, OPENAI_BASE_URL: fake.baseURL }, timeout: 60_000 });
        expect(JSON.parse(stdout.trim()), script).toEqual({ prompt, id: true, model: 'gpt-4o-2024-08-06' });
      }
    } finally {
      await fake.close();
    }
  });
});
