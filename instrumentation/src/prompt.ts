import { bindToActiveContext, withLineage } from './context.ts';
import type { ResolveAnswer } from './internal-types.ts';
import { renderTemplate, templateVariables, variableMap } from './render.ts';
import type { ChatMessage, Prompt, PromptLineage, PromptTemplate, TemplateVariables } from './types.ts';
import { safely } from './utils.ts';

/** A prompt version as the registry resolved it (or the app's fallback), with its lineage. */
export class LoadedPrompt implements Prompt {
  readonly name: string;
  readonly version: number | undefined;
  readonly alias: string | null;
  readonly templateHash: string;
  readonly splitId: string | null;
  readonly template: PromptTemplate;
  readonly variables: readonly string[];
  readonly source: Prompt['source'];
  readonly lineage: PromptLineage;
  readonly #defaults: TemplateVariables | undefined;

  constructor(init: { name: string; version: number | undefined; alias: string | null; templateHash: string; splitId: string | null; template: PromptTemplate; source: Prompt['source']; defaults?: TemplateVariables | undefined }) {
    this.name = init.name;
    this.version = init.version;
    this.alias = init.alias;
    this.templateHash = init.templateHash;
    this.splitId = init.splitId;
    this.template = init.template;
    this.variables = Object.freeze(templateVariables(init.template));
    this.source = init.source;
    this.#defaults = init.defaults;
    const lineage: PromptLineage = { name: init.name, templateHash: init.templateHash };
    if (init.version !== undefined) lineage.version = init.version;
    if (init.alias) lineage.alias = init.alias;
    if (init.splitId) lineage.splitId = init.splitId;
    this.lineage = Object.freeze(lineage);
  }

  static fromAnswer(answer: ResolveAnswer, source: Prompt['source'], defaults: TemplateVariables | undefined): LoadedPrompt {
    const v = answer.version;
    return new LoadedPrompt({ name: v.name, version: v.version, alias: answer.alias, templateHash: v.templateHash, splitId: answer.assignment?.splitId ?? null, template: v.template, source, defaults });
  }

  format(variables?: TemplateVariables): string | ChatMessage[] {
    const out = renderTemplate(this.name, this.template, variableMap(this.#defaults, variables));
    safely('binding the prompt to the context failed', () => bindToActiveContext(this.lineage), undefined);
    return out;
  }

  messages(variables?: TemplateVariables): ChatMessage[] {
    const out = this.format(variables);
    return typeof out === 'string' ? [{ role: 'user', content: out }] : out;
  }

  run<T>(fn: () => T): T {
    return withLineage({ prompt: this.lineage }, fn);
  }
}
