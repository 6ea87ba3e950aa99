import type { ChatMessage, PromptTemplate, TemplateVariables } from './types.ts';

// {{variable}} templates, by the registry's rules (src/registry/render.ts): a name is letters,
// digits, "_", "." or "-", spaces inside the braces are allowed, and a variable the template uses
// that the caller does not give is an error, never an empty string sent to a model.

const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

export class MissingVariablesError extends Error {
  readonly missing: string[];
  constructor(promptName: string, missing: string[]) {
    const many = missing.length > 1;
    super(`prompt ${promptName} needs ${many ? 'the variables' : 'the variable'} ${missing.map((m) => `"${m}"`).join(', ')}, which ${many ? 'were' : 'was'} not given`);
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

/** Variables as a Map, so that names such as "__proto__" are plain data; later sources win. */
export function variableMap(...sources: Array<TemplateVariables | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sources) {
    if (!s) continue;
    const entries = s instanceof Map ? s.entries() : Object.entries(s);
    for (const [k, v] of entries) out.set(k, String(v));
  }
  return out;
}

export function renderTemplate(name: string, t: PromptTemplate, vars: ReadonlyMap<string, string>): string | ChatMessage[] {
  const missing = templateVariables(t).filter((v) => !vars.has(v));
  if (missing.length > 0) throw new MissingVariablesError(name, missing);
  const fill = (text: string) => text.replace(VARIABLE, (_m, v: string) => vars.get(v)!);
  return t.type === 'text' ? fill(t.text) : t.messages.map((m) => ({ role: m.role, content: fill(m.content) }));
}
