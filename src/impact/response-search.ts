import { BadRequestError } from '../common/errors.ts';
import type { ResponseFacets, ResponseFilter, ResponseList, ResponseListItem } from '../storage/response-list.ts';
import { decodeCursor, encodeCursor } from './impact-service.ts';

// The searchable list of a project's responses, newest first, and the values it may be filtered
// by. The window defaults to the last 7 days; every filter narrows the list. Pages follow an
// opaque cursor (the position of the last item: start time, trace and span id), so a page is the
// same however many responses arrive meanwhile.

export type ResponseSearch = Omit<ResponseFilter, 'from' | 'to'> & { from?: Date | undefined; to?: Date | undefined };

const WEEK_MS = 7 * 86_400_000;
/** Clocks of the apps that send spans may be ahead of ours: the default window ends an hour from now. */
const AHEAD_MS = 3_600_000;

/** The window and filters of a search; `to` defaults to an hour from now, `from` to 7 days before `to` (or before now). */
function filterOf(q: ResponseSearch, now: Date): ResponseFilter {
  const to = q.to ?? new Date(now.getTime() + AHEAD_MS);
  const from = q.from ?? new Date((q.to ?? now).getTime() - WEEK_MS);
  if (from >= to) throw new BadRequestError('from must be before to');
  return { ...q, from, to };
}

export interface ResponsePage {
  items: ResponseListItem[];
  /** The cursor of the next page; null on the last. */
  nextCursor: string | null;
  /** How many responses match in the window, on every page. */
  count: number;
  window: { from: string; to: string };
}

export async function searchResponses(list: ResponseList, projectId: string, q: ResponseSearch & { limit: number; cursor?: string | undefined }, now: Date): Promise<ResponsePage> {
  const { limit, cursor, ...search } = q;
  const filter = filterOf(search, now);
  const after = cursor === undefined ? null : decodeCursor(cursor);
  const [items, count] = await Promise.all([list.listResponses(projectId, filter, { limit: limit + 1, after }), list.countResponses(projectId, filter)]);
  const page = items.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page,
    nextCursor: items.length > limit && last ? encodeCursor({ timestamp: last.timestamp, traceId: last.traceId, spanId: last.spanId }) : null,
    count,
    window: { from: filter.from.toISOString(), to: filter.to.toISOString() },
  };
}

/** How many values of each facet are answered. */
const FACET_TOP = 50;

export async function searchFacets(list: ResponseList, projectId: string, q: ResponseSearch, now: Date): Promise<ResponseFacets & { window: { from: string; to: string } }> {
  const filter = filterOf(q, now);
  return { ...(await list.responseFacets(projectId, filter, FACET_TOP)), window: { from: filter.from.toISOString(), to: filter.to.toISOString() } };
}
