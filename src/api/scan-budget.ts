import { UnavailableError } from '../common/errors.ts';

// How many requests that scan many spans (impact, compare, reports, the response list) one
// project may have in flight. Past it the caller is answered 429 with Retry-After at once, before
// any work, so a tenant's flood is refused instead of queued; the span store then serves lookups
// before scans and projects in turn (src/storage/clickhouse/query-lanes.ts).

export class ScanBudget {
  private readonly perProject: number;
  private readonly inFlight = new Map<string, number>();

  constructor(perProject: number) {
    this.perProject = perProject;
  }

  /** Takes a place for `project`, or throws 429; returns the function that gives it back (once). */
  take(project: string): () => void {
    const n = this.inFlight.get(project) ?? 0;
    if (n >= this.perProject) {
      throw new UnavailableError(`project ${project} has ${n} requests over many spans (impact, compare, reports, response lists) in flight already, the most it may have; retry when one has answered`, 1, 429);
    }
    this.inFlight.set(project, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.inFlight.get(project) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(project);
      else this.inFlight.set(project, left);
    };
  }
}
