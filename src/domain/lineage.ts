// The canonical lineage record: what Promptline knows about the prompt, model, datasets and app
// behind one span, whichever convention the sending app used. '' means "not known".

export interface PromptRef {
  name: string;
  version: string;
  alias: string;
  templateHash: string;
}

export interface ModelRef {
  provider: string;
  name: string;
}

export interface AppRef {
  name: string;
  version: string;
}

export interface EvaluationRef {
  name: string;
  score: number | null;
  label: string;
}

/** What a span carries itself, read from its own and its resource's attributes. */
export interface OwnLineage {
  prompt: PromptRef | null;
  model: ModelRef | null;
  responseId: string;
  datasetIds: string[];
  app: AppRef;
  conversationId: string;
  evaluation: EvaluationRef | null;
}

/** A span's lineage after inheriting from its ancestors in the same trace. */
export interface ResolvedLineage {
  prompt: PromptRef | null;
  /** The span the prompt was read from: the span itself or its nearest ancestor that carried one. */
  promptSpanId: string;
  model: ModelRef | null;
  responseId: string;
  datasetIds: string[];
  app: AppRef;
  conversationId: string;
}

export function sameResolved(a: ResolvedLineage, b: ResolvedLineage): boolean {
  return (
    a.promptSpanId === b.promptSpanId &&
    samePrompt(a.prompt, b.prompt) &&
    a.model?.name === b.model?.name &&
    a.model?.provider === b.model?.provider &&
    a.responseId === b.responseId &&
    a.datasetIds.length === b.datasetIds.length &&
    a.datasetIds.every((d, i) => d === b.datasetIds[i]) &&
    a.app.name === b.app.name &&
    a.app.version === b.app.version &&
    a.conversationId === b.conversationId
  );
}

function samePrompt(a: PromptRef | null, b: PromptRef | null): boolean {
  if (a === null || b === null) return a === b;
  return a.name === b.name && a.version === b.version && a.alias === b.alias && a.templateHash === b.templateHash;
}
