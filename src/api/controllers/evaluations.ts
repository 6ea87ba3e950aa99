import { createHash } from 'node:crypto';
import { z } from 'zod';
import { evaluationEdges } from '../../ingest/evaluations.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { AuditService } from '../../governance/audit.ts';
import { versionTarget } from '../../governance/audit-content.ts';
import type { RegistryService } from '../../registry/registry-service.ts';
import { text } from '../../registry/names.ts';
import { parsePromptUri, type PromptRef } from '../../registry/uri.ts';
import type { LineageGraph } from '../../storage/lineage-graph.ts';
import type { EvaluationRow, SpanAnalytics } from '../../storage/span-analytics.ts';

// Evaluation results posted by an evaluation harness: one run, one scorer, many results, all of one
// prompt version (named by URI or name and version) and, optionally, one dataset. Evaluations are
// evidence in compliance reports, so each post is audited: who posted which run's results, of which
// prompt version, how many, and a hash of their content (the same hash names the insert, so an
// auditor can tie the entry to the rows).

const id = text().trim().min(1).max(512);

export const evaluationBody = z
  .object({
    runId: id,
    scorer: id,
    prompt: text().min(1).max(300).describe('prompts:/name/3, or a prompt name with version'),
    version: z.number().int().min(1).optional(),
    datasetId: id.optional(),
    model: id.optional(),
    results: z
      .array(
        z
          .object({
            score: z.number().nullable().optional(),
            label: text().max(256).optional(),
            itemId: text().max(512).optional(),
            responseId: text().max(512).optional(),
            traceId: z.string().regex(/^[0-9a-f]{32}$/).optional(),
            spanId: z.string().regex(/^[0-9a-f]{16}$/).optional(),
          })
          .strict()
          .refine((r) => r.score !== undefined || r.label !== undefined, 'a result has a score or a label'),
      )
      .min(1)
      .max(10_000),
  })
  .strict();

export async function recordEvaluations(
  deps: { analytics: SpanAnalytics; graph: LineageGraph; registry: RegistryService; audit: AuditService },
  projectId: string,
  actor: string,
  body: z.infer<typeof evaluationBody>,
) {
  let ref: PromptRef;
  if (body.prompt.startsWith('prompts:/')) ref = parsePromptUri(body.prompt);
  else if (body.version !== undefined) ref = { name: body.prompt, version: body.version };
  else throw new BadRequestError('name the prompt version evaluated: prompts:/name/3, or prompt with version');
  const resolved = await deps.registry.resolve(projectId, ref);
  const v = resolved.version;
  const now = BigInt(Date.now()) * 1_000_000n;
  const rows: EvaluationRow[] = body.results.map((r, i) => ({
    runId: body.runId,
    scorer: body.scorer,
    score: r.score ?? null,
    label: r.label ?? '',
    promptName: v.name,
    promptVersion: String(v.version),
    datasetId: body.datasetId ?? '',
    modelName: body.model ?? '',
    appName: '',
    appVersion: '',
    responseId: r.responseId ?? '',
    traceId: r.traceId ?? '',
    spanId: r.spanId ?? '',
    itemId: r.itemId ?? String(i),
    timestampNs: now,
    source: 'api',
  }));
  const resultsHash = contentHash(projectId, rows);
  await deps.analytics.writeEvaluations(projectId, rows, `api-evaluations/${resultsHash}`);
  await deps.graph.recordEdges(projectId, evaluationEdges(rows));
  // The results live in the span store, which shares no transaction with the audit log: the entry
  // follows the write (a retried post is stored once, by its token, and audited as posted again).
  await deps.audit.record({
    project: projectId,
    actor,
    action: 'evaluation.record',
    target: versionTarget(v.name, v.version),
    before: null,
    after: { runId: body.runId, scorer: body.scorer, prompt: { name: v.name, version: v.version }, datasetId: body.datasetId ?? null, model: body.model ?? null, results: rows.length, resultsHash },
  });
  const scores = rows.map((r) => r.score).filter((s): s is number => s !== null);
  return {
    runId: body.runId,
    scorer: body.scorer,
    prompt: { name: v.name, version: v.version },
    datasetId: body.datasetId ?? null,
    results: rows.length,
    meanScore: scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
  };
}

/**
 * The hash of the project and the content, which names the insert (its dedup token) and is recorded
 * in the audit entry: a retried post of the same results is stored once, and no other post (another
 * project's with the same run id, or other results of the same run and scorer) can ever be taken
 * for it. The time of receipt is left out, so a retry matches.
 */
function contentHash(projectId: string, rows: readonly EvaluationRow[]): string {
  const content = rows.map(({ timestampNs: _t, ...rest }) => rest);
  return createHash('sha256').update(JSON.stringify([projectId, content])).digest('hex');
}
