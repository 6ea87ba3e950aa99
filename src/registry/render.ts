import type { PromptTemplate } from '../domain/prompt.ts';
import { BadRequestError } from '../common/errors.ts';

// {{variable}} templates. A variable name is letters, digits, "_", "." or "-"; spaces inside the
// braces are allowed. A variable the template uses and the caller does not give is an error,
// never an empty string in a prompt sent to a model.

const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

export class MissingVariablesError extends BadRequestError {
  readonly missing: string[];
  constructor(missing: string[]) {
    super(`the template needs ${missing.length === 1 ? 'the variable' : 'the variables'} ${missing.map((m) => `"${m}"`).join(', ')}, which ${missing.length === 1 ? 'was' : 'were'} not given`);
    this.missing = missing;
  }
}

function textsOf(t: PromptTemplate): string[] {
  return t.type === 'text' ? [t.text] : t.messages.map((m) => m.content);
}

/** The variables a template uses, in order of first use. */
export function templateVariables(t: PromptTemplate): string[] {
  const seen = new Set<string>();
  for (const text of textsOf(t)) for (const m of text.matchAll(VARIABLE)) seen.add(m[1]!);
  return [...seen];
}

function fill(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(VARIABLE, (_m, name: string) => vars.get(name)!);
}

/** Renders a template; variables are a Map so that names such as "__proto__" are plain data. */
export function renderTemplate(t: PromptTemplate, variables: ReadonlyMap<string, string>): PromptTemplate {
  const missing = templateVariables(t).filter((v) => !variables.has(v));
  if (missing.length > 0) throw new MissingVariablesError(missing);
  return t.type === 'text' ? { type: 'text', text: fill(t.text, variables) } : { type: 'chat', messages: t.messages.map((m) => ({ role: m.role, content: fill(m.content, variables) })) };
}
