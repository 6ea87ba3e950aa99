import { trace } from '@opentelemetry/api';
import OpenAI from 'openai';
import { loadPrompt, register, withLineage } from '@promptline/instrumentation';
import { startFakeOpenAI } from './fake-openai.ts';
import { ANSWER_PROMPT, ensurePrompt, PLAN_PROMPT } from './prompts.ts';

// A small support agent: a planning step (chat completions, which asks for a tool), the tool call,
// and an answering step (Responses API). Its two prompts come from Promptline's registry through
// loadPrompt; register() sends its spans to Promptline, which then names the prompt version,
// alias and model behind the final response.
//
//   npm start                # Promptline on 127.0.0.1:4318, in another terminal
//   npm run example:agent    # starts an OpenAI-compatible fake unless OPENAI_BASE_URL is set

export interface AgentOptions {
  promptlineUrl: string;
  apiKey?: string | undefined;
  openaiBaseURL: string;
  openaiApiKey?: string;
  question?: string;
  userId?: string;
  log?: (line: string) => void;
}

const APP = { name: 'support-agent', version: '1.0.0' };
const SHOP = 'Acme Outdoor';

const lookupOrderTool: OpenAI.ChatCompletionFunctionTool = {
  type: 'function',
  function: { name: 'lookup_order', description: 'Finds an order by the words of the question.', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
};

/** The tool: a stand-in for the shop's order database. */
function lookupOrder(args: { query?: string }) {
  return { orderId: 'A-10023', status: 'shipped', carrier: 'DHL', eta: '2026-11-28', matchedOn: args.query ?? '' };
}

async function provenanceOf(base: string, apiKey: string | undefined, responseId: string, timeoutMs = 30_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/v1/provenance?response_id=${encodeURIComponent(responseId)}`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
    if (res.ok) return res.json();
    if (res.status !== 404) throw new Error(`provenance answered ${res.status}: ${await res.text()}`);
    if (Date.now() > deadline) throw new Error(`Promptline has no provenance for ${responseId} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runAgent(opts: AgentOptions) {
  const log = opts.log ?? (() => {});
  const question = opts.question ?? 'Where is my order? I ordered a tent last week.';
  const userId = opts.userId ?? 'user-42';
  const promptline = register({ endpoint: opts.promptlineUrl, apiKey: opts.apiKey, serviceName: APP.name, serviceVersion: APP.version, batch: { scheduledDelayMillis: 200 } });
  try {
    for (const p of [PLAN_PROMPT, ANSWER_PROMPT]) log(`prompt ${p.name}: ${await ensurePrompt(opts.promptlineUrl, opts.apiKey, p)}`);
    const plan = await loadPrompt('prompts:/support-plan@production', { key: userId, variables: { shop: SHOP } });
    const answer = await loadPrompt({ name: 'support-answer', alias: 'production' }, { key: userId, variables: { shop: SHOP } });
    log(`loaded prompts:/support-plan/${plan.version} and prompts:/support-answer/${answer.version} (production)`);

    const openai = new OpenAI({ baseURL: opts.openaiBaseURL, apiKey: opts.openaiApiKey ?? 'sk-example' });
    const tracer = trace.getTracer(APP.name, APP.version);

    const result = await withLineage({ app: APP, datasets: ['orders-db'], conversationId: `conv-${userId}` }, () =>
      tracer.startActiveSpan(`invoke_agent ${APP.name}`, async (agentSpan) => {
        try {
          const planned = await plan.run(() =>
            tracer.startActiveSpan('agent.step plan', async (step) => {
              const messages = plan.messages({ question }) as OpenAI.ChatCompletionMessageParam[];
              const c = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [lookupOrderTool] });
              step.end();
              return c;
            }),
          );
          const toolCall = planned.choices[0]?.message.tool_calls?.find((t) => t.type === 'function');
          log(`plan (${planned.id}): call ${toolCall?.function.name ?? 'no tool'}`);

          const facts = tracer.startActiveSpan(
            `execute_tool ${lookupOrderTool.function.name}`,
            { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': lookupOrderTool.function.name, ...(toolCall ? { 'gen_ai.tool.call.id': toolCall.id } : {}) } },
            (span) => {
              const r = lookupOrder(toolCall ? (JSON.parse(toolCall.function.arguments) as { query?: string }) : {});
              span.end();
              return r;
            },
          );
          log(`tool lookup_order: ${JSON.stringify(facts)}`);

          const response = await answer.run(() =>
            tracer.startActiveSpan('agent.step answer', async (step) => {
              const input = answer.messages({ question, facts: JSON.stringify(facts) }) as OpenAI.Responses.EasyInputMessage[];
              const r = await openai.responses.create({ model: 'gpt-4o', input });
              step.end();
              return r;
            }),
          );
          log(`answer (${response.id}): ${response.output_text}`);
          return { responseId: response.id, text: response.output_text };
        } finally {
          agentSpan.end();
        }
      }),
    );

    await promptline.forceFlush();
    const provenance = await provenanceOf(opts.promptlineUrl, opts.apiKey, result.responseId);
    return { ...result, prompts: { plan: plan.lineage, answer: answer.lineage }, provenance };
  } finally {
    await promptline.shutdown();
  }
}

if (import.meta.main) {
  const json = process.argv.includes('--json');
  const promptlineUrl = (process.env.PROMPTLINE_URL ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
  const fake = process.env.OPENAI_BASE_URL ? null : await startFakeOpenAI();
  const log = json ? () => {} : (line: string) => console.log(line);
  if (fake) log(`OpenAI-compatible fake on ${fake.baseURL}`);
  try {
    const r = await runAgent({ promptlineUrl, apiKey: process.env.PROMPTLINE_API_KEY, openaiBaseURL: process.env.OPENAI_BASE_URL ?? fake!.baseURL, openaiApiKey: process.env.OPENAI_API_KEY ?? 'sk-example', log });
    if (json) console.log(JSON.stringify(r));
    else console.log(`\nprovenance of ${r.responseId}:\n${JSON.stringify(r.provenance, null, 2)}`);
  } catch (err) {
    console.error(`the example agent failed: ${err instanceof Error ? err.message : String(err)}`);
    const cause = err instanceof Error ? err.cause : undefined;
    if (cause instanceof Error && cause.message.includes('ECONNREFUSED')) console.error(`is Promptline running at ${promptlineUrl}? (npm start)`);
    process.exitCode = 1;
  } finally {
    await fake?.close();
  }
}
