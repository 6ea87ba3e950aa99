// Limits applied while decoding, so that one huge or hostile span cannot exhaust memory or the
// stack. Values past a limit are truncated, not refused: the span and its lineage are kept.

export const OTLP_LIMITS = Object.freeze({
  /** A request body, after decompression (OTLP answers 413 above it). */
  maxBodyBytes: 20 * 1024 * 1024,
  /** Characters of one string attribute value; longer values are cut and end with "…[truncated]". */
  maxAttributeValueChars: 256 * 1024,
  /** Attributes kept per span, event, link or resource; the rest are dropped and counted. */
  maxAttributesPerItem: 1024,
  /** Characters of an attribute key. */
  maxAttributeKeyChars: 1024,
  /** Events and links kept per span. */
  maxEventsPerSpan: 1024,
  maxLinksPerSpan: 1024,
  /** Nesting of array and key-value list attribute values; deeper levels are replaced by a marker. */
  maxValueDepth: 16,
  /**
   * The latest time a span may carry, in nanoseconds since the epoch: 2262-04-11, the end of what a
   * DateTime64(9) column holds. A span starting or ending later is refused (partial success).
   */
  maxTimeUnixNano: 9_223_372_036_854_775_807n,
});

export const TRUNCATION_MARK = '…[truncated]';

/** What an array or key-value list value nested past maxValueDepth is kept as. */
export const NESTED_TOO_DEEP_MARK = '[nested too deep]';

/**
 * Cuts a string to `max` characters and replaces lone UTF-16 surrogates (which JSON can carry but
 * UTF-8 cannot) with U+FFFD, so that every string the collector keeps can be stored.
 */
export function truncate(s: string, max: number): string {
  const cut = s.length > max ? s.slice(0, max) + TRUNCATION_MARK : s;
  return cut.isWellFormed() ? cut : cut.toWellFormed();
}
