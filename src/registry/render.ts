import { describeMissingVariables, fillTemplate, missingVariables } from '@promptline/instrumentation/render';
import type { PromptTemplate } from '../domain/prompt.ts';
import { BadRequestError } from '../common/errors.ts';

// The registry renders {{variable}} templates with the instrumentation's renderer, the one apps
// run, so that a version renders the same in the registry as in an app. Here a missing variable
// is the caller's error (400).

export { templateVariables } from '@promptline/instrumentation/render';

export class MissingVariablesError extends BadRequestError {
  readonly missing: string[];
  constructor(missing: string[]) {
    super(`the template needs ${describeMissingVariables(missing)}`);
    this.missing = missing;
  }
}

/** Renders a template; variables are a Map so that names such as "__proto__" are plain data. */
export function renderTemplate(t: PromptTemplate, variables: ReadonlyMap<string, string>): PromptTemplate {
  const missing = missingVariables(t, variables);
  if (missing.length > 0) throw new MissingVariablesError(missing);
  return fillTemplate(t, variables);
}
