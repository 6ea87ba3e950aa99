import type { OwnLineage, ResolvedLineage } from './lineage.ts';
import type { DecodedSpan } from './span.ts';

// A span as the span store keeps it: the decoded span, its own lineage, the lineage it resolved to
// (its own over what it inherits from its ancestors), and the revision that later fixups supersede.

/** Which fields of a stored span were its own rather than inherited (a bit each). */
export const OWN_PROMPT = 1;
export const OWN_MODEL = 2;
export const OWN_DATASETS = 4;
export const OWN_CONVERSATION = 8;
export const OWN_APP = 16;

/** A span already in the store, as the resolver needs it back. */
export interface StoredNode {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  resolved: ResolvedLineage;
  ownMask: number;
  revision: number;
  startMs: number;
}

export interface ResolvedSpan {
  span: DecodedSpan;
  own: OwnLineage;
  resolved: ResolvedLineage;
  ownMask: number;
  revision: number;
  /** Whether its prompt is a registered version; set by the writer before it stores the span. */
  registration?: string;
}

export interface LineageFixup {
  traceId: string;
  spanId: string;
  resolved: ResolvedLineage;
  ownMask: number;
  revision: number;
  /** When the fixed span started, for the graph's first and last seen. */
  startMs: number;
  registration?: string;
}
