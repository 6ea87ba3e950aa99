import { PromptClient } from './registry-client.ts';
import type { LoadPromptOptions, Prompt, PromptRef } from './types.ts';

/** The client loadPrompt uses: Promptline's URL and key from register(), else the environment. */
export const defaultPromptClient = new PromptClient();

/**
 * Resolves a prompt through Promptline's registry: a URI (`prompts:/name/3`, `prompts:/name@production`)
 * or `{ name, version }` / `{ name, alias }`. Cached for `ttlMs`; during a registry outage the last
 * good answer is served.
 */
export function loadPrompt(ref: PromptRef, options?: LoadPromptOptions): Promise<Prompt> {
  return defaultPromptClient.load(ref, options);
}
