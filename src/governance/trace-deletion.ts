import { NotFoundError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { SpanRetentionStore } from '../storage/span-store.ts';
import type { AuditService } from './audit.ts';

// Deletion requests (privacy): one trace, or every trace of one conversation, removed from every
// table of span rows within one project, and one audit entry that says what was removed and how
// many rows, never what they held.
//
// Spans the receiver acknowledged may still wait in the spool: the request waits (a bounded time)
// for the writer to store what it holds, so that they are deleted too. Spans of the trace that
// arrive after the request are stored again, as new data; the lineage graph holds no trace (only
// prompts, versions, models, datasets and apps), so it has nothing to delete.

export interface TraceDeletionDeps {
  spans: SpanRetentionStore;
  audit: AuditService;
  /** Resolves when what the writer holds is stored, or after a while: true when it was. */
  drainWrites: () => Promise<boolean>;
  logger: Logger;
}

export interface DeletionResult {
  traceIds: string[];
  rowsDeleted: number;
  /** Rows removed by table. */
  tables: Record<string, number>;
}

export class TraceDeletion {
  private readonly deps: TraceDeletionDeps;

  constructor(deps: TraceDeletionDeps) {
    this.deps = deps;
  }

  async deleteTrace(project: string, traceId: string, actor: string): Promise<DeletionResult> {
    const id = traceId.toLowerCase();
    return this.remove(project, [id], actor, { action: 'trace.delete', target: `trace:${id}`, missing: `no trace ${id} in project ${project}` });
  }

  async deleteConversation(project: string, conversationId: string, actor: string): Promise<DeletionResult> {
    await this.drain();
    const traceIds = await this.deps.spans.traceIdsOfConversation(project, conversationId);
    return this.remove(project, traceIds, actor, { action: 'conversation.delete', target: `conversation:${conversationId}`, missing: `no conversation ${conversationId} in project ${project}`, drained: true });
  }

  private async remove(project: string, traceIds: string[], actor: string, what: { action: string; target: string; missing: string; drained?: boolean }): Promise<DeletionResult> {
    if (!what.drained) await this.drain();
    const byTable = traceIds.length > 0 ? await this.deps.spans.deleteTraces(project, traceIds) : new Map<string, number>();
    const tables = Object.fromEntries(byTable);
    const rowsDeleted = [...byTable.values()].reduce((a, n) => a + n, 0);
    if (rowsDeleted === 0) throw new NotFoundError(what.missing);
    // Ids and counts only: nothing the spans said.
    await this.deps.audit.record({ project, actor, action: what.action, target: what.target, before: null, after: { traceIds, rowsDeleted, tables } });
    return { traceIds, rowsDeleted, tables };
  }

  private async drain(): Promise<void> {
    if (!(await this.deps.drainWrites())) this.deps.logger.warn('deletion request: the writer still holds spans; spans of the trace among them are stored after the deletion');
  }
}
