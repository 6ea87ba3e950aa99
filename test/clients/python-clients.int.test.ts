import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../examples/agent/fake-openai.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';
import { startFakeLangfuse, type FakeLangfuse } from './fake-langfuse.ts';
import { startOtlpWireTap, type OtlpWireTap, type WireCapture } from './otlp-wire-tap.ts';

// Real Python client libraries from PyPI (the venv of `npm run python:env`), configured as their
// docs say, exporting real OTLP to a real `promptline serve`; only the model endpoint (an
// OpenAI-compatible fake) and Langfuse's prompt API are faked. Each case is a small app in
// test/clients/python/ that prints the response ids it got; the provenance API must then name the
// prompt, version and model behind each of them. What every library put on the wire (span names,
// parents, attributes with their OTLP types, resources) is written to
// test-output/clients-wire/<case>.json by a tap that passes each request on to the server.

const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON = join(ROOT, '.venv/bin/python');
const CASES = join(import.meta.dirname, 'python');
const WIRE_OUTPUT = join(ROOT, 'test-output/clients-wire');
/** The case apps' prompt template (the same as test/clients/python/_common.py). */
const TEMPLATE = "You are a support agent for {{product}}. Answer the customer's question: {{question}}";
/** The fake answers a request for gpt-4o-mini with this dated snapshot, as the real API does. */
const RESPONSE_MODEL = 'gpt-4o-mini-2024-07-18';

interface Fakes {
  openai: FakeOpenAI;
  langfuse: FakeLangfuse;
}

interface ClientCase {
  id: string;
  title: string;
  script: string;
  /** The prompt version the app uses (MLflow's registry numbers its own: the app registers up to it). */
  version: number;
  /** How many model calls the app makes (each one's response id is looked up). */
  calls: number;
  /**
   * False where the library drops the prompt link before export (MLflow in GenAI-semconv mode):
   * provenance must then name the model and no prompt, and this case says when that changes.
   */
  promptOnWire?: false;
  /**
   * 'trace' where the library sends no response id (Langfuse's OpenAI wrapper keeps only the
   * message, not the completion's id): its responses are found by their trace.
   */
  linkedBy?: 'trace';
  env?: (fakes: Fakes) => Record<string, string>;
}

const CLIENT_CASES: ClientCase[] = [
  { id: 'otel-openai-v2', title: 'OpenTelemetry SDK + opentelemetry-instrumentation-openai-v2, prompt on the app span (promptline.prompt.*), plain and streamed', script: 'otel_openai_v2.py', version: 3, calls: 2 },
  { id: 'openinference-openai', title: 'OpenInference OpenAI instrumentor, using_prompt_template and prompt.id on the parent span', script: 'openinference_openai.py', version: 2, calls: 1 },
  {
    id: 'mlflow-openai',
    title: 'MLflow 3: prompt registry (load_prompt links mlflow.linkedPrompts), openai autolog, MLflow OTLP export',
    script: 'mlflow_openai.py',
    version: 2,
    calls: 1,
    // The file store is in maintenance mode in MLflow 3 and refuses to start without this opt-in;
    // it keeps the venv free of SQLAlchemy and Alembic (sqlite:///… needs them).
    env: () => ({ MLFLOW_ALLOW_FILE_STORE: 'true' }),
  },
  {
    id: 'mlflow-openai-genai-semconv',
    title: 'MLflow 3 with MLFLOW_ENABLE_OTEL_GENAI_SEMCONV=true (mlflow.* translated to gen_ai.*, the rest stripped)',
    script: 'mlflow_openai.py',
    version: 2,
    calls: 1,
    // The translation keeps only mlflow.traceTag.* of MLflow's own attributes: mlflow.linkedPrompts
    // is not exported (mlflow/tracing/export/genai_semconv/translator.py).
    promptOnWire: false,
    env: () => ({ MLFLOW_ALLOW_FILE_STORE: 'true', MLFLOW_ENABLE_OTEL_GENAI_SEMCONV: 'true' }),
  },
  {
    id: 'langfuse-openai',
    title: "Langfuse SDK v3: get_prompt from Langfuse's prompt API, the OpenAI drop-in with langfuse_prompt",
    script: 'langfuse_openai.py',
    version: 4,
    calls: 1,
    linkedBy: 'trace',
    env: (f) => ({ LANGFUSE_BASE_URL: f.langfuse.baseURL, LANGFUSE_PUBLIC_KEY: 'pk-lf-00000000-test', LANGFUSE_SECRET_KEY: 'sk-lf-00000000-test' }),
  },
  {
    id: 'traceloop-openai',
    title: "Traceloop SDK: Traceloop.init to Promptline, get_prompt from Traceloop's prompt registry (traceloop.prompt.*)",
    script: 'traceloop_openai.py',
    version: 5,
    calls: 1,
    // No metrics endpoint here (Traceloop would send metrics to the same base URL).
    env: () => ({ TRACELOOP_METRICS_ENABLED: 'false', TRACELOOP_TELEMETRY: 'false' }),
  },
  { id: 'langchain-openinference', title: 'LangChain (ChatPromptTemplate | ChatOpenAI) with the OpenInference LangChain instrumentor', script: 'langchain_openinference.py', version: 6, calls: 1 },
];

interface Transport {
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL for the Python side. */
  protocol: 'http/protobuf' | 'grpc';
  /** Whether requests pass through the OTLP/HTTP tap (and so are written to test-output/clients-wire). */
  tapped: boolean;
  endpoint(server: ServerUnderTest, tap: OtlpWireTap | null): string;
}

const TRANSPORTS: Transport[] = [
  { protocol: 'http/protobuf', tapped: true, endpoint: (_server, tap) => tap!.endpoint },
  // Every case again over OTLP/gRPC (MLflow's and the Python OTel exporter's default; Traceloop
  // turns the endpoint into grpc://host:port itself). The tap is OTLP/HTTP only: the wire record is
  // written for http/protobuf, and a case found by its trace (its ids come from the tap) runs there.
  { protocol: 'grpc', tapped: false, endpoint: (server) => server.grpcUrl },
];

/** The cases a transport runs: those found by their trace need the tap's record of the trace ids. */
const casesFor = (t: Transport): ClientCase[] => CLIENT_CASES.filter((c) => t.tapped || c.linkedBy !== 'trace');

interface CaseRun {
  responseIds: string[];
  reported: Record<string, unknown>;
  stderr: string;
  wire: WireCapture | null;
  /** The case's record in test-output/clients-wire (null when the transport is not tapped). */
  record: Record<string, unknown> | null;
}

function writeRecord(id: string, record: Record<string, unknown>): void {
  mkdirSync(WIRE_OUTPUT, { recursive: true });
  writeFileSync(join(WIRE_OUTPUT, `${id}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Runs one case app with the venv's Python; resolves with what it printed, or rejects with its output. */
function runPython(script: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, [join(CASES, script)], { cwd: CASES, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolvePromise({ stdout, stderr });
      reject(new Error(`${script} exited with ${code ?? signal}:\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    });
  });
}

/** At most `limit` of the tasks at once (the Python apps import heavy libraries; two cores). */
function limited(limit: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

describe.each(TRANSPORTS)('Python client libraries over OTLP $protocol', (transport) => {
  let server: ServerUnderTest;
  let fakes: Fakes;
  const taps: OtlpWireTap[] = [];
  const runs = new Map<string, Promise<CaseRun>>();
  const promptNames = new Map(CLIENT_CASES.map((c) => [c.id, `${c.id}-${randomUUID().slice(0, 8)}`]));

  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`npm run python:env\` (npm test runs it first)`);
    const [s, openai, langfuse] = await Promise.all([startServer(), startFakeOpenAI(), startFakeLangfuse(TEMPLATE)]);
    server = s;
    fakes = { openai, langfuse };
    const slot = limited(3);
    for (const c of casesFor(transport)) {
      const run = slot(async (): Promise<CaseRun> => {
        const tap = transport.tapped ? await startOtlpWireTap(`${server.url}/v1/traces`) : null;
        if (tap) taps.push(tap);
        const { stdout, stderr } = await runPython(c.script, {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: transport.endpoint(server, tap),
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: transport.protocol,
          OTEL_SERVICE_NAME: `py-${c.id}`,
          OPENAI_BASE_URL: fakes.openai.baseURL,
          OPENAI_API_KEY: 'sk-test-0000',
          PL_PROMPT_NAME: promptNames.get(c.id)!,
          PL_PROMPT_VERSION: String(c.version),
          PYTHONUNBUFFERED: '1',
          ...c.env?.(fakes),
        });
        const reported = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown> & { response_ids: string[] };
        const wire = tap?.capture() ?? null;
        const record = wire ? { case: c.id, title: c.title, protocol: transport.protocol, prompt: { name: promptNames.get(c.id), version: c.version }, reported, ...wire } : null;
        if (record) writeRecord(c.id, record);
        return { responseIds: reported.response_ids, reported, stderr, wire, record };
      });
      // Each test awaits its own case; a failed case must not surface as an unhandled rejection first.
      run.catch(() => {});
      runs.set(c.id, run);
    }
  });

  afterAll(async () => {
    await Promise.allSettled(runs.values());
    await Promise.all(taps.map((t) => t.close()));
    await fakes?.openai.close();
    await fakes?.langfuse.close();
    if (server) {
      await server.stop();
      removeDir(server.dataDir);
    }
  });

  describe.each(casesFor(transport))('$title', (c) => {
    it('provenance by each response id (by its trace where the library sends none) names the prompt, its version and the model', async () => {
      const run = await runs.get(c.id)!;
      expect(run.responseIds, `the app's report: ${JSON.stringify(run.reported)}`).toHaveLength(c.calls);
      for (const responseId of run.responseIds) expect(responseId).toMatch(/^chatcmpl-/);
      if (run.wire) expect(run.wire.requests.every((r) => r.status === 200), JSON.stringify(run.wire.requests)).toBe(true);

      // What the server made of it is kept beside the wire record: by each response id, then by
      // every trace the case sent (found even where a library records no response id).
      const answers: Record<string, unknown> = {};
      try {
        if (c.linkedBy === 'trace') {
          const traceIds = [...new Set(run.wire!.spans.map((s) => s.traceId))];
          expect(traceIds).toHaveLength(c.calls);
          for (const traceId of traceIds) {
            const p = await eventually(() => provenance(server.url, { trace_id: traceId }), `provenance of ${c.id} trace ${traceId}`, 10_000);
            expect(p).toMatchObject({ prompt: { name: promptNames.get(c.id), version: c.version }, model: { name: RESPONSE_MODEL } });
          }
          return;
        }
        for (const responseId of run.responseIds) {
          // The server answered 200 to every export (durable); the lineage writer is asynchronous.
          const p = await eventually(
            async () => {
              const answer = await provenance(server.url, { response_id: responseId });
              answers[`response_id=${responseId}`] = answer ?? null;
              return answer;
            },
            `provenance of ${c.id} response ${responseId}`,
            10_000,
          );
          expect(p).toMatchObject({
            responseId,
            prompt: c.promptOnWire === false ? null : { name: promptNames.get(c.id), version: c.version },
            model: { name: RESPONSE_MODEL },
          });
        }
      } finally {
        if (run.record) {
          for (const traceId of new Set(run.wire!.spans.map((s) => s.traceId))) answers[`trace_id=${traceId}`] = (await provenance(server.url, { trace_id: traceId }).catch(String)) ?? null;
          writeRecord(c.id, { ...run.record, provenance: answers });
        }
      }
    });
  });
});
