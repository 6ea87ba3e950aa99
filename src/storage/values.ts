import type { Clock } from '../common/clock.ts';

// Conversions both backends make between stored values and the domain's: times are stored as
// milliseconds since the epoch, structured values as JSON text.

export const dateOrNull = (ms: number | null | undefined): Date | null => (ms === null || ms === undefined ? null : new Date(ms));

export const jsonOrNull = (text: string | null | undefined): unknown => (text === null || text === undefined ? null : JSON.parse(text));

/**
 * The time to record for the next entry of a sequence (an alias's moves, the audit log): now, but
 * never before the entry it follows, so that entries stay ordered in time as in sequence even if
 * the clock steps back.
 */
export const nextInSequence = (clock: Clock, previousMs: number | null | undefined): number => Math.max(clock.now().getTime(), previousMs ?? 0);
