import type { ChatMessage, PromptTemplate, TemplateVariables } from './types.ts';

// {{variable}} templates, rendered the same way by apps (Prompt.format) and by the registry's
// render endpoint, which uses this module through the package's `./render` export. A name is
// letters, digits, "_", "." or "-", spaces inside the braces are allowed, and a variable the
// template uses that the caller does not give is an error, never an empty string sent to a model.

const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** `the variable "a", which was not given`, or the plural: the end of a missing-variables message. */
export function describeMissingVariables(missing: readonly string[]): string {
  const many = missing.length > 1;
  return `${many ? 'the variables' : 'the variable'} ${missing.map((m) => `"${m}"`).join(', ')}, which ${many ? 'were' : 'was'} not given`;
}

export class MissingVariablesError extends Error {
  readonly missing: string[];
  constructor(promptName: string, missing: string[]) {
    super(`prompt ${promptName} needs ${describeMissingVariables(missing)}`);
    this.name = 'MissingVariablesError';
    this.missing = missing;
  }
}

const textsOf = (t: PromptTemplate) => (t.type === 'text' ? [t.text] : t.messages.map((m) => m.content));

/** The variables a template uses, in order of first use. */
export function templateVariables(t: PromptTemplate): string[] {
  const seen = new Set<string>();
  for (const text of textsOf(t)) for (const m of text.matchAll(VARIABLE)) seen.add(m[1]!);
  return [...seen];
}

/** The variables a template uses that `vars` does not give, in order of first use. */
export function missingVariables(t: PromptTemplate, vars: ReadonlyMap<string, string>): string[] {
  return templateVariables(t).filter((v) => !vars.has(v));
}

/**
 * The number of UTF-16 code units fillTemplate would produce (summed over a chat template's
 * messages), computed from the template's parts and the values' lengths without building the
 * text: a short template that uses one long value many times renders a very long text, and a
 * caller that bounds the output can refuse it first. A variable `vars` does not give counts as
 * left in place.
 */
export function renderedLength(t: PromptTemplate, vars: ReadonlyMap<string, string>): number {
  let total = 0;
  for (const text of textsOf(t)) {
    total += text.length;
    for (const m of text.matchAll(VARIABLE)) {
      const value = vars.get(m[1]!);
      if (value !== undefined) total += value.length - m[0].length;
    }
  }
  return total;
}

/**
 * The template with every variable replaced by its value, as a template of the same type. Values
 * are a Map, so that names such as "__proto__" are plain data; the caller has checked with
 * missingVariables that each one is given.
 */
export function fillTemplate(t: PromptTemplate, vars: ReadonlyMap<string, string>): PromptTemplate {
  const fill = (text: string) => text.replace(VARIABLE, (_m, name: string) => vars.get(name)!);
  return t.type === 'text' ? { type: 'text', text: fill(t.text) } : { type: 'chat', messages: t.messages.map((m) => ({ role: m.role, content: fill(m.content) })) };
}

/** Variables as a Map, so that names such as "__proto__" are plain data; later sources win. */
export function variableMap(...sources: Array<TemplateVariables | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sources) {
    if (!s) continue;
    const entries: Iterable<[string, string | number | boolean]> = s instanceof Map ? s.entries() : Object.entries(s);
    for (const [k, v] of entries) out.set(k, String(v));
  }
  return out;
}

/** Renders a prompt's template: a string for a text template, messages for a chat template. */
export function renderTemplate(name: string, t: PromptTemplate, vars: ReadonlyMap<string, string>): string | ChatMessage[] {
  const missing = missingVariables(t, vars);
  if (missing.length > 0) throw new MissingVariablesError(name, missing);
  const filled = fillTemplate(t, vars);
  return filled.type === 'text' ? filled.text : filled.messages;
}
