import { BadRequestError } from '../common/errors.ts';
import { ALIAS_NAME, PROMPT_NAME } from './names.ts';

// MLflow-style prompt URIs: prompts:/name/3, prompts:/name@production, prompts:/name@latest.

export type PromptRef = { name: string; version: number; alias?: undefined } | { name: string; alias: string; version?: undefined };

export function parsePromptUri(uri: string): PromptRef {
  const m = /^prompts:\/([^/@]+)(?:\/(\d+)|@([^/@]+))$/.exec(uri.trim());
  if (!m) throw new BadRequestError(`"${uri}" is not a prompt URI: write prompts:/NAME/VERSION or prompts:/NAME@ALIAS`);
  const [, name, version, alias] = m as unknown as [string, string, string | undefined, string | undefined];
  if (!PROMPT_NAME.test(name)) throw new BadRequestError(`"${name}" is not a valid prompt name`);
  if (version !== undefined) {
    const n = Number(version);
    if (!Number.isSafeInteger(n) || n < 1) throw new BadRequestError(`"${version}" is not a valid version`);
    return { name, version: n };
  }
  if (alias !== 'latest' && !ALIAS_NAME.test(alias!)) throw new BadRequestError(`"${alias}" is not a valid alias`);
  return { name, alias: alias! };
}

export function formatPromptUri(ref: PromptRef): string {
  return ref.version !== undefined ? `prompts:/${ref.name}/${ref.version}` : `prompts:/${ref.name}@${ref.alias}`;
}
