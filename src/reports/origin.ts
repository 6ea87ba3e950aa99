import type { PromptVersion } from '../domain/prompt.ts';

// What produced the prompt version behind a report, as its registration said: the versions it was
// derived from and the optimizer run (name, run id, the dataset it was trained on, scorer, score).
// Only versions registered with an origin get the section.

/** A report section (compliance.ts's ReportSection, facts only). */
export function originSection(v: PromptVersion | null): { heading: string; facts: Array<[string, string]> } | null {
  const o = v?.origin;
  if (!v || !o) return null;
  const run = o.optimizer;
  const dash = (s: string | null) => (s === null || s === '' ? '—' : s);
  const facts: Array<[string, string]> = [['Derived from', o.derivedFrom.length > 0 ? o.derivedFrom.map((r) => `${r.name} v${r.version}`).join(', ') : '—']];
  if (run) {
    facts.push(
      ['Optimizer', run.name],
      ['Optimizer run', run.runId],
      ['Trained on dataset', dash(run.dataset)],
      ['Scorer', dash(run.scorer)],
      ['Score', run.score === null ? '—' : String(run.score)],
    );
  } else facts.push(['Optimizer', 'none recorded']);
  return { heading: `Where ${v.name} v${v.version} came from`, facts };
}
