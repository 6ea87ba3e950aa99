import { UnavailableError } from '../../common/errors.ts';
import type { PingResult } from '../lifecycle.ts';
import type { ClickHouseExecutor, InsertOptions, QueryParams } from './executor.ts';

// Who waits for the span store's engine, and in what order. The embedded engine runs one
// parameterised query at a time for the whole process, so without an order of our own a tenant's
// thirty heavy impact queries would sit in front of everyone's provenance lookup. Queries go
// through two lanes:
//
// - lookup: primary-key reads (provenance, a trace, a span) and the writer's own queries. Always
//   served first.
// - analysis: scans (impact, compare, evaluations, the response list). Served only when no lookup
//   waits, one project after another (round robin), so one project cannot starve another; each
//   project may have only so many analysis queries waiting, past which it is answered 429.
//
// A query that waits longer than the queue timeout is answered 503 without being run. Inserts
// do not pass through the lanes: the engine runs them beside queries.

export type Lane = 'lookup' | 'analysis';

/** Lookups that may go ahead of a waiting scan before the scan gets its turn. */
const LOOKUPS_BEFORE_A_SCAN = 16;

export interface QueryLaneOptions {
  /** Queries run at once (1 for the embedded engine, which runs one at a time anyway). */
  slots: number;
  /** Analysis queries one project may have waiting; one more is answered 429. */
  analysisQueuePerProject: number;
  /** How long a query may wait for a slot before it is answered 503 without running. */
  queueTimeoutMs: number;
  /**
   * After a lookup, how long a slot is kept for the next lookup before a scan may take it: one
   * answer (a provenance lookup) is a few lookups in a row, and without this each of them would
   * wait behind a scan that started in the gap. Default 50 ms.
   */
  lookupGraceMs?: number;
}

interface Waiting {
  start(): void;
  fail(err: Error): void;
  timer: NodeJS.Timeout | null;
}

export class QueryLanes {
  private readonly opts: QueryLaneOptions;
  private running = 0;
  private readonly lookups: Waiting[] = [];
  /** Per project, in the order projects first queued; served round robin. */
  private readonly analysis = new Map<string, Waiting[]>();
  private readonly rotation: string[] = [];
  private lastLookupEnd = Number.NEGATIVE_INFINITY;
  /** Lookups started since the last scan while a scan was waiting. */
  private lookupsAhead = 0;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(opts: QueryLaneOptions) {
    this.opts = opts;
  }

  /** Queries waiting now, per lane: for /readyz and tests. */
  waiting(): { lookup: number; analysis: number } {
    let analysis = 0;
    for (const q of this.analysis.values()) analysis += q.length;
    return { lookup: this.lookups.length, analysis };
  }

  run<T>(lane: Lane, project: string, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = {
        timer: null,
        start: () => {
          if (w.timer) clearTimeout(w.timer);
          this.running++;
          fn().then(resolve, reject).finally(() => {
            this.running--;
            if (lane === 'lookup') this.lastLookupEnd = performance.now();
            this.next();
          });
        },
        fail: (err) => {
          if (w.timer) clearTimeout(w.timer);
          reject(err);
        },
      };
      if (lane === 'analysis') {
        const q = this.analysis.get(project) ?? [];
        if (q.length >= this.opts.analysisQueuePerProject) {
          reject(new UnavailableError(`project ${project} has ${q.length} queries over many spans waiting already (the limit is ${this.opts.analysisQueuePerProject}); retry when they have answered`, 1, 429));
          return;
        }
        if (q.length === 0) {
          this.analysis.set(project, q);
          this.rotation.push(project);
        }
        q.push(w);
      } else {
        this.lookups.push(w);
      }
      w.timer = setTimeout(() => {
        if (this.remove(w)) w.fail(new UnavailableError(`the span store is busy: this query waited ${this.opts.queueTimeoutMs} ms for its turn`, 2, 503));
      }, this.opts.queueTimeoutMs);
      w.timer.unref();
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.opts.slots) {
      // Lookups go first, but a steady stream of them does not starve the scans: after
      // LOOKUPS_BEFORE_A_SCAN lookups while a scan waited, the scan goes.
      const scanDue = this.rotation.length > 0 && this.lookupsAhead >= LOOKUPS_BEFORE_A_SCAN;
      const lookup = scanDue ? undefined : this.lookups.shift();
      if (lookup) {
        if (this.rotation.length > 0) this.lookupsAhead++;
        lookup.start();
        continue;
      }
      if (this.rotation.length === 0) return;
      const grace = scanDue ? 0 : (this.opts.lookupGraceMs ?? 50);
      const wait = this.lastLookupEnd + grace - performance.now();
      if (wait > 0) {
        this.graceTimer ??= setTimeout(() => {
          this.graceTimer = null;
          this.next();
        }, Math.ceil(wait));
        return;
      }
      this.lookupsAhead = 0;
      this.nextAnalysis()!.start();
    }
  }

  private nextAnalysis(): Waiting | undefined {
    const project = this.rotation.shift();
    if (project === undefined) return undefined;
    const q = this.analysis.get(project)!;
    const w = q.shift();
    if (q.length > 0) this.rotation.push(project);
    else this.analysis.delete(project);
    return w;
  }

  private remove(w: Waiting): boolean {
    const i = this.lookups.indexOf(w);
    if (i >= 0) {
      this.lookups.splice(i, 1);
      return true;
    }
    for (const [project, q] of this.analysis) {
      const j = q.indexOf(w);
      if (j < 0) continue;
      q.splice(j, 1);
      if (q.length === 0) {
        this.analysis.delete(project);
        this.rotation.splice(this.rotation.indexOf(project), 1);
      }
      return true;
    }
    return false;
  }
}

/** TIMEOUT_EXCEEDED from either executor: the engine stopped the query at max_execution_time. */
function timedOut(err: unknown): boolean {
  const cause = (err as { cause?: { clickhouseCode?: unknown; code?: unknown } } | null)?.cause;
  const code = cause?.clickhouseCode ?? cause?.code;
  return code === 159 || code === '159';
}

/**
 * An executor whose queries take their turn in one lane. The project a query serves is its
 * `project` parameter (every query of the span store and its analytics names one).
 */
export class LanedExecutor implements ClickHouseExecutor {
  private readonly inner: ClickHouseExecutor;
  private readonly lanes: QueryLanes;
  private readonly lane: Lane;
  readonly name: string;

  constructor(inner: ClickHouseExecutor, lanes: QueryLanes, lane: Lane) {
    this.inner = inner;
    this.lanes = lanes;
    this.lane = lane;
    this.name = inner.name;
  }

  private projectOf(params: QueryParams | undefined): string {
    const p = params?.project;
    return typeof p === 'string' ? p : '';
  }

  command(sql: string, params?: QueryParams): Promise<void> {
    // A command without parameters (DDL at start) does not queue behind parameterised queries in the engine either.
    if (!params) return this.inner.command(sql);
    return this.lanes.run(this.lane, this.projectOf(params), () => this.inner.command(sql, params));
  }

  query<T>(sql: string, params?: QueryParams): Promise<T[]> {
    return this.lanes.run(this.lane, this.projectOf(params), () => this.inner.query<T>(sql, params)).catch((err: unknown) => {
      throw timedOut(err) ? new UnavailableError(`the query ran longer than the span store allows (PROMPTLINE_QUERY_TIMEOUT_MS); ask for a shorter time range or a narrower filter`, 5, 503) : err;
    });
  }

  insertJsonEachRow(table: string, rows: Buffer, opts?: InsertOptions): Promise<void> {
    return this.inner.insertJsonEachRow(table, rows, opts);
  }

  ping(): Promise<PingResult> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
