/** The lineage of an LLM call, as an agent app knows it. */
export interface Lineage {
  prompt?: { name: string; version?: number | string; alias?: string; templateHash?: string };
  model?: { provider?: string; name: string };
  datasets?: readonly string[];
  app?: { name: string; version?: string };
  conversationId?: string;
}
