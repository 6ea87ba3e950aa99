import { describeMissingVariables, fillTemplate, missingVariables, renderedLength } from '@promptline/instrumentation/render';
import type { PromptTemplate } from '../domain/prompt.ts';
import { BadRequestError, UnprocessableError } from '../common/errors.ts';

// The registry renders {{variable}} templates with the instrumentation's renderer, the one apps
// run, so that a version renders the same in the registry as in an app. Here a missing variable
// is the caller's error (400), and so is a rendering longer than RENDER_LIMITS.renderedChars
// (422): a 256 KiB template of "{{a}}" with a 4 KiB value would otherwise be built as a 200 MB
// string and answered. The length is computed from the template's parts before any text is built.

export { templateVariables } from '@promptline/instrumentation/render';

export class MissingVariablesError extends BadRequestError {
  readonly missing: string[];
  constructor(missing: string[]) {
    super(`the template needs ${describeMissingVariables(missing)}`);
    this.missing = missing;
  }
}

export const RENDER_LIMITS = Object.freeze({
  /** The longest rendering answered, in UTF-16 code units over all of a template's messages: 4 MiB. */
  renderedChars: 4 * 1024 * 1024,
});

export class RenderTooLargeError extends UnprocessableError {
  readonly renderedChars: number;
  constructor(renderedChars: number) {
    super(
      `the rendered template would be ${renderedChars} characters, more than the ${RENDER_LIMITS.renderedChars} the registry renders; ` +
        'give shorter variable values, or fetch the version and render it in the app',
      'render_too_large',
    );
    this.renderedChars = renderedChars;
  }
}

/** Renders a template; variables are a Map so that names such as "__proto__" are plain data. */
export function renderTemplate(t: PromptTemplate, variables: ReadonlyMap<string, string>): PromptTemplate {
  const missing = missingVariables(t, variables);
  if (missing.length > 0) throw new MissingVariablesError(missing);
  const length = renderedLength(t, variables);
  if (length > RENDER_LIMITS.renderedChars) throw new RenderTooLargeError(length);
  return fillTemplate(t, variables);
}
