import { createHash } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { CacheEntry, RegistryConnection, ResolveAnswer } from './internal-types.ts';
import { LoadedPrompt } from './prompt.ts';
import type { LoadPromptOptions, Prompt, PromptRef, PromptTemplate } from './types.ts';
import { DEFAULT_ENDPOINT, trimSlash, warn } from './utils.ts';

// loadPrompt: GET /v1/prompts/resolve with an in-memory cache. An answer is reused for its TTL;
// when the registry is down (network error, timeout, 5xx) the last good answer is served and the
// registry is asked again a few seconds later. An alias that splits traffic is resolved by the
// server for the caller's key, and cached per key; any other answer is shared by all keys.

const DEFAULT_TTL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;
const OUTAGE_RETRY_MS = 5_000;
const MAX_ENTRIES = 10_000;

/** The registry refused the request (unknown prompt, bad URI, a split alias without a key): not an outage. */
export class PromptRegistryError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'PromptRegistryError';
    this.status = status;
  }
}

/** The registry could not be reached and there was nothing cached and no fallback to serve. */
export class PromptUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PromptUnavailableError';
  }
}

class Outage extends Error {}

export function promptUri(ref: PromptRef): string {
  if (typeof ref === 'string') return ref.trim();
  return 'version' in ref ? `prompts:/${ref.name}/${ref.version}` : `prompts:/${ref.name}@${ref.alias}`;
}

/** The registry's template hash: sha256 of the text, or of the messages' canonical JSON. */
export function hashTemplate(t: PromptTemplate): string {
  const text = t.type === 'text' ? t.text : JSON.stringify(t.messages.map((m) => ({ role: m.role, content: m.content })));
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export class PromptClient {
  readonly connection: RegistryConnection;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<ResolveAnswer>>();
  /** The last good answer per URI, whatever the key: what a new key gets during an outage. */
  readonly #lastGood = new Map<string, CacheEntry>();

  constructor(connection: Partial<RegistryConnection> = {}) {
    this.connection = {
      endpoint: trimSlash(connection.endpoint ?? process.env.PROMPTLINE_URL ?? DEFAULT_ENDPOINT),
      apiKey: connection.apiKey ?? process.env.PROMPTLINE_API_KEY,
    };
  }

  async load(ref: PromptRef, opts: LoadPromptOptions = {}): Promise<Prompt> {
    const uri = promptUri(ref);
    const shared = this.#cache.get(uri);
    const perKey = opts.key === undefined ? undefined : this.#cache.get(`${uri}\u0000${opts.key}`);
    const cached = perKey ?? (shared && shared.answer.assignment === null ? shared : undefined);
    if (cached && Date.now() < cached.refreshAt) return LoadedPrompt.fromAnswer(cached.answer, 'cache', opts.variables);
    try {
      const answer = await this.#resolveOnce(uri, opts);
      this.#remember(uri, answer.assignment ? `${uri}\u0000${opts.key ?? ''}` : uri, answer, Date.now() + (opts.ttlMs ?? DEFAULT_TTL_MS));
      return LoadedPrompt.fromAnswer(answer, 'registry', opts.variables);
    } catch (err) {
      if (!(err instanceof Outage)) throw err;
      const stale = cached ?? this.#lastGood.get(uri);
      if (stale) {
        stale.refreshAt = Date.now() + Math.min(opts.ttlMs ?? DEFAULT_TTL_MS, OUTAGE_RETRY_MS);
        warn(`registry unreachable (${err.message}); serving the last good ${uri}, version ${stale.answer.version.version}`);
        return LoadedPrompt.fromAnswer(stale.answer, 'stale', opts.variables);
      }
      if (opts.fallback !== undefined) {
        warn(`registry unreachable (${err.message}) and ${uri} was never loaded; serving the fallback template`);
        return fallbackPrompt(uri, opts);
      }
      throw new PromptUnavailableError(`prompt ${uri} could not be loaded: ${err.message}`, { cause: err });
    }
  }

  /** One request per prompt and key at a time, however many callers ask at once. */
  #resolveOnce(uri: string, opts: LoadPromptOptions): Promise<ResolveAnswer> {
    const flightKey = `${uri}\u0000${opts.key ?? ''}`;
    let p = this.#inFlight.get(flightKey);
    if (!p) {
      p = this.#fetch(uri, opts).finally(() => this.#inFlight.delete(flightKey));
      this.#inFlight.set(flightKey, p);
    }
    return p;
  }

  async #fetch(uri: string, opts: LoadPromptOptions): Promise<ResolveAnswer> {
    const endpoint = trimSlash(opts.endpoint ?? this.connection.endpoint);
    const apiKey = opts.apiKey ?? this.connection.apiKey;
    const query = new URLSearchParams({ uri });
    if (opts.key !== undefined) query.set('key', opts.key);
    let res: Response;
    try {
      // The registry call is the instrumentation's own business, not a span of the app's.
      res = await context.with(suppressTracing(context.active()), () =>
        fetch(`${endpoint}/v1/prompts/resolve?${query}`, {
          headers: { accept: 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
          signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        }),
      );
    } catch (err) {
      throw new Outage(err instanceof Error ? `${err.name}: ${(err.cause as Error | undefined)?.message ?? err.message}` : String(err));
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || res.status === 429) throw new Outage(`the registry answered ${res.status}`);
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new PromptRegistryError(`the registry refused ${uri}: ${res.status} ${message}`.trim(), res.status);
    }
    try {
      const answer = JSON.parse(text) as ResolveAnswer;
      if (typeof answer?.version?.name !== 'string' || typeof answer.version.version !== 'number' || !answer.version.template) throw new Error('no version in the answer');
      return answer;
    } catch (err) {
      throw new Outage(`the registry's answer could not be read (${String(err)})`);
    }
  }

  #remember(uri: string, key: string, answer: ResolveAnswer, refreshAt: number): void {
    const entry = { answer, refreshAt };
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    this.#lastGood.set(uri, entry);
    // Insertion order makes the first key the least recently stored.
    if (this.#cache.size > MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
  }

  clear(): void {
    this.#cache.clear();
    this.#lastGood.clear();
  }
}

function fallbackPrompt(uri: string, opts: LoadPromptOptions): Prompt {
  const fb = opts.fallback!;
  const template: PromptTemplate = typeof fb === 'string' ? { type: 'text', text: fb } : { type: 'chat', messages: fb.messages.map((m) => ({ ...m })) };
  const m = /^prompts:\/([^/@]+)(?:@([^/@]+))?/.exec(uri);
  const name = m?.[1] ?? uri;
  return new LoadedPrompt({ name, version: undefined, alias: m?.[2] ?? null, templateHash: hashTemplate(template), splitId: null, template, source: 'fallback', defaults: opts.variables });
}
