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
  /** Nesting of array and key-value list attribute values; deeper levels become their JSON text, cut. */
  maxValueDepth: 16,
});

export const TRUNCATION_MARK = '…[truncated]';

export function truncate(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) + TRUNCATION_MARK : s;
}
