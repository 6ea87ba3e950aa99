import { context, createContextKey, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { LineageSettings } from './internal-types.ts';
import * as sc from './semconv.ts';
import type { Lineage, LineageInput, PromptLineage, WithLineageOptions } from './types.ts';
import { safely } from './utils.ts';

// Lineage lives in the OpenTelemetry context, so it follows async calls the way the active span
// does, and parallel tasks never see each other's. Across services it travels, when asked, as
// W3C baggage entries named promptline.*.

const LINEAGE_KEY = createContextKey('@promptline/instrumentation lineage');

/** Set once by `register`; `withLineage` options override per call. */
export const lineageSettings: LineageSettings = { baggage: false };

/** Prompts formatted in a context, for the spans later started in that same context. */
const formattedIn = new WeakMap<Context, Lineage>();

/**
 * The lineage in `ctx` (by default the active context): a prompt formatted in it, else what
 * withLineage set, else what another service sent in baggage (when enabled).
 */
export function currentLineage(ctx: Context = context.active()): Lineage | undefined {
  const own = formattedIn.get(ctx) ?? (ctx.getValue(LINEAGE_KEY) as Lineage | undefined);
  if (own) return own;
  return lineageSettings.baggage ? lineageFromBaggage(ctx) : undefined;
}

/**
 * Binds a formatted prompt to the active context, so the LLM call made next in it carries the
 * prompt, and the one after a later format() the later prompt. Never the root context: that one is
 * shared by every task of the process, so the prompt would land on unrelated spans.
 */
export function bindToActiveContext(prompt: PromptLineage): void {
  const ctx = context.active();
  if (ctx === ROOT_CONTEXT) return;
  const outer = ctx.getValue(LINEAGE_KEY) as Lineage | undefined;
  formattedIn.set(ctx, merge(outer, { prompt }));
}

function promptOf(p: LineageInput['prompt']): PromptLineage | undefined {
  if (!p) return undefined;
  return 'lineage' in p ? p.lineage : p;
}

/** The inner call's fields win; datasets add up. */
function merge(outer: Lineage | undefined, input: LineageInput): Lineage {
  const l: Lineage = { ...outer };
  const prompt = promptOf(input.prompt);
  if (prompt) l.prompt = { ...prompt };
  if (input.model) l.model = typeof input.model === 'string' ? { name: input.model } : { ...input.model };
  if (input.app) l.app = { ...input.app };
  if (input.conversationId) l.conversationId = input.conversationId;
  if (input.datasets && input.datasets.length > 0) l.datasets = [...new Set([...(outer?.datasets ?? []), ...input.datasets])];
  return Object.freeze(l);
}

/** `ctx` with the lineage added (and written to baggage when asked). */
export function contextWithLineage(ctx: Context, input: LineageInput, opts: WithLineageOptions = {}): Context {
  const lineage = merge(currentLineage(ctx), input);
  let next = ctx.setValue(LINEAGE_KEY, lineage);
  if (opts.baggage ?? lineageSettings.baggage) next = withBaggage(next, lineage);
  return next;
}

/** Runs `fn` with the lineage in context: every span started inside, however deep in async calls, carries it. */
export function withLineage<T>(input: LineageInput, fn: () => T, opts: WithLineageOptions = {}): T {
  const ctx = safely('withLineage could not set the lineage', () => contextWithLineage(context.active(), input, opts), undefined);
  return ctx ? context.with(ctx, fn) : fn();
}

function withBaggage(ctx: Context, l: Lineage): Context {
  const entries: Array<[string, string | number | undefined]> = [
    [sc.BAGGAGE_PROMPT_NAME, l.prompt?.name],
    [sc.BAGGAGE_PROMPT_VERSION, l.prompt?.version],
    [sc.BAGGAGE_PROMPT_ALIAS, l.prompt?.alias],
    [sc.BAGGAGE_PROMPT_HASH, l.prompt?.templateHash],
    [sc.BAGGAGE_PROMPT_SPLIT_ID, l.prompt?.splitId],
    [sc.BAGGAGE_DATASET_IDS, l.datasets?.join(',')],
    [sc.BAGGAGE_MODEL_NAME, l.model?.name],
    [sc.BAGGAGE_MODEL_PROVIDER, l.model?.provider],
    [sc.BAGGAGE_APP_NAME, l.app?.name],
    [sc.BAGGAGE_APP_VERSION, l.app?.version],
    [sc.BAGGAGE_CONVERSATION_ID, l.conversationId],
  ];
  // Entries of an outer lineage that this one does not set must not leak through.
  let bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  for (const [key] of entries) bag = bag.removeEntry(key);
  for (const [key, value] of entries) if (value !== undefined && value !== '') bag = bag.setEntry(key, { value: String(value) });
  return propagation.setBaggage(ctx, bag);
}

/** A lineage from promptline.* baggage entries another service sent; undefined when there are none. */
export function lineageFromBaggage(ctx: Context): Lineage | undefined {
  const bag = propagation.getBaggage(ctx);
  if (!bag) return undefined;
  const get = (k: string) => {
    const v = bag.getEntry(k)?.value.trim();
    return v ? v : undefined;
  };
  const l: Lineage = {};
  const name = get(sc.BAGGAGE_PROMPT_NAME);
  if (name) {
    const p: PromptLineage = { name };
    const version = get(sc.BAGGAGE_PROMPT_VERSION);
    if (version) p.version = /^\d+$/.test(version) ? Number(version) : version;
    const alias = get(sc.BAGGAGE_PROMPT_ALIAS);
    if (alias) p.alias = alias;
    const hash = get(sc.BAGGAGE_PROMPT_HASH);
    if (hash) p.templateHash = hash;
    const split = get(sc.BAGGAGE_PROMPT_SPLIT_ID);
    if (split) p.splitId = split;
    l.prompt = p;
  }
  const datasets = get(sc.BAGGAGE_DATASET_IDS)?.split(',').map((d) => d.trim()).filter((d) => d !== '');
  if (datasets && datasets.length > 0) l.datasets = datasets;
  const model = get(sc.BAGGAGE_MODEL_NAME);
  if (model) l.model = { name: model, ...(get(sc.BAGGAGE_MODEL_PROVIDER) ? { provider: get(sc.BAGGAGE_MODEL_PROVIDER)! } : {}) };
  const app = get(sc.BAGGAGE_APP_NAME);
  if (app) l.app = { name: app, ...(get(sc.BAGGAGE_APP_VERSION) ? { version: get(sc.BAGGAGE_APP_VERSION)! } : {}) };
  const conversation = get(sc.BAGGAGE_CONVERSATION_ID);
  if (conversation) l.conversationId = conversation;
  return Object.keys(l).length > 0 ? l : undefined;
}
