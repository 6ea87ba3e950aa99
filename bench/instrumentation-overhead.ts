// What the instrumentation adds to one LLM call, in microseconds: the same OpenAI SDK call (chat
// completion, ~2 KB of prompt, answered in-process by a canned response so no network noise
// enters) timed one by one, in three set-ups, alternating in rounds:
//
//   bare         the OpenAI SDK alone
//   openinference  + OpenInference's span for the call, SDK pipeline, OTLP protobuf export
//   promptline   + the lineage processor, the call made inside withLineage with a loaded prompt
//                  (what register() sets up)
//
// Spans really leave: the OTLP/HTTP exporter sends them to a sink in another process.
//
//   npm run bench:instrumentation [-- iterations=20000 rounds=3]
import { spawn } from 'node:child_process';
import { cpus, platform, release, totalmem } from 'node:os';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import * as openaiModule from 'openai';
import { PromptlineSpanProcessor, withLineage, type PromptLineage } from '../instrumentation/src/index.ts';
import { instrumentOpenAI } from '../instrumentation/src/instrumentation.ts';

const args = new Map(process.argv.slice(2).map((a) => a.split('=') as [string, string]));
const ITERATIONS = Number(args.get('iterations') ?? 20_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const WARMUP = 2_000;

const SYSTEM = `You are the support agent of Acme Outdoor. ${'Answer from the order record and the knowledge base; cite the order id; never promise refunds the policy does not allow. '.repeat(14)}`;
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion',
  created: 1764066130,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Your order A-10023 shipped with DHL and should arrive on 28 November.', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 512, completion_tokens: 18, total_tokens: 530, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } },
  service_tier: 'default',
  system_fingerprint: 'fp_0ba0d124f1',
});
const cannedFetch = async () => new Response(COMPLETION, { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'req_bench' } });
const client = new openaiModule.OpenAI({ apiKey: 'sk-bench', baseURL: 'http://127.0.0.1:9/v1', fetch: cannedFetch, maxRetries: 0 });
const call = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Where is my order A-10023? I ordered a tent last week.' }] });
const prompt: PromptLineage = { name: 'support-answer', version: 3, alias: 'production', templateHash: 'e8700435da18da254bc7032a52de0090557f1902f5cfda3b61c58d007cae2b1b' };

/** An OTLP sink in its own process, so receiving costs nothing here. */
async function startSink(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(200, {'content-type': 'application/x-protobuf'}); s.end(); }); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { url: `http://127.0.0.1:${port}/v1/traces`, stop: () => child.kill() };
}

type Setup = { name: string; start(): () => Promise<void>; run: () => Promise<unknown> };

function pipeline(sinkUrl: string, processors: SpanProcessor[]) {
  // shutdown() exports the whole queue at once: let it, instead of failing past 30 requests.
  const exporter = new OTLPTraceExporter({ url: sinkUrl, concurrencyLimit: 1_000 });
  const provider = new TracerProvider({ spanProcessors: [...processors, new BatchSpanProcessor({ exporter, maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 100 })] });
  return provider;
}

function setups(sinkUrl: string): Setup[] {
  const instrumented = (lineage: boolean) => () => {
    const provider = pipeline(sinkUrl, lineage ? [new PromptlineSpanProcessor()] : []);
    const llm = instrumentOpenAI(provider, { module: openaiModule });
    return async () => {
      llm.disable();
      await provider.shutdown();
    };
  };
  return [
    { name: 'bare', start: () => async () => {}, run: call },
    { name: 'openinference', start: instrumented(false), run: call },
    { name: 'promptline', start: instrumented(true), run: () => withLineage({ prompt, datasets: ['kb-2026-11'], app: { name: 'support-agent', version: '1.0.0' } }, call) },
  ];
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function measure(s: Setup, n: number): Promise<number[]> {
  const stop = s.start();
  for (let i = 0; i < WARMUP; i++) await s.run();
  const us = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await s.run();
    us[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  await stop();
  return us;
}

const manager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(manager);
const sink = await startSink();
const all = new Map<string, number[]>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of setups(sink.url)) {
      const us = await measure(s, ITERATIONS);
      all.set(s.name, [...(all.get(s.name) ?? []), ...us]);
    }
  }
} finally {
  sink.stop();
}

const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()}, Node ${process.version}`);
console.log(`command: node ${[...process.execArgv, ...process.argv.slice(1)].map((a) => a.replace(process.cwd() + '/', '')).join(' ')}  (iterations=${ITERATIONS} × rounds=${ROUNDS} per set-up, ${WARMUP} warm-up calls each round)`);
console.log('set-up          median µs     p99 µs    mean µs');
const stats = new Map<string, { median: number; p99: number }>();
for (const [name, us] of all) {
  const sorted = [...us].sort((a, b) => a - b);
  const s = { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
  stats.set(name, s);
  console.log(`${name.padEnd(14)} ${s.median.toFixed(1).padStart(9)} ${s.p99.toFixed(1).padStart(10)} ${(us.reduce((a, b) => a + b, 0) / us.length).toFixed(1).padStart(10)}`);
}
const d = (a: string, b: string, k: 'median' | 'p99') => (stats.get(a)![k] - stats.get(b)![k]).toFixed(1);
console.log(`overhead per call: OpenInference span + export ${d('openinference', 'bare', 'median')} µs median (${d('openinference', 'bare', 'p99')} µs at p99); lineage on top ${d('promptline', 'openinference', 'median')} µs median (${d('promptline', 'openinference', 'p99')} µs at p99); all of Promptline's instrumentation ${d('promptline', 'bare', 'median')} µs median (${d('promptline', 'bare', 'p99')} µs at p99)`);
