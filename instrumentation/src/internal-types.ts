import type { PromptTemplate } from './types.ts';

// Shapes that never leave the package.

export interface LineageSettings {
  baggage: boolean;
}

/** GET /v1/prompts/resolve, as the registry answers it. */
export interface ResolveAnswer {
  uri: string;
  alias: string | null;
  assignment: { splitId: string; version: number; key: string } | null;
  version: { name: string; version: number; template: PromptTemplate; templateHash: string; variables: string[] };
}

export interface CacheEntry {
  answer: ResolveAnswer;
  /** When the registry should be asked again (after the TTL, or sooner retries during an outage). */
  refreshAt: number;
}

export interface RegistryConnection {
  endpoint: string;
  apiKey: string | undefined;
}
