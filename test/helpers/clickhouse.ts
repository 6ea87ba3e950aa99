import type { ClickHouseExecutor } from '../../src/storage/clickhouse/executor.ts';

// Questions tests ask of the span table that no part of Promptline needs to ask.

/** The spans stored for a project, each counted once however many revisions it has. */
export async function countStoredSpans(exec: ClickHouseExecutor, projectId: string): Promise<number> {
  const rows = await exec.query<{ n: string }>('SELECT count() AS n FROM otel_traces FINAL WHERE ProjectId = {project:String}', { project: projectId });
  return Number(rows[0]?.n ?? 0);
}
