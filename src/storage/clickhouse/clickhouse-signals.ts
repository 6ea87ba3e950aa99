import type { SignalBin, SignalTarget } from '../span-analytics.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';

// The histograms drift compares: a prompt version's (or an alias's) responses in a window, each
// signal binned in ClickHouse (continuous ones on fine log bins, see logBinEdge), so what comes
// back is a few hundred counts whatever the number of responses. Responses are read from
// promptline_response_list at their latest revision (FINAL), like the response list.

const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/** floor(log2(x + 1) · 8) as text: the fine bin of a non-negative value. */
const logBin = (x: string) => `toString(toInt64(floor(log2(${x} + 1) * 8)))`;

const SIGNALS = `arrayFilter(s -> s.2 != '', [
  ('latency_ms', ${logBin('Duration / 1e6')}),
  ('input_tokens', if(InputTokens >= 0, ${logBin('InputTokens')}, '')),
  ('output_tokens', if(OutputTokens >= 0, ${logBin('OutputTokens')}, '')),
  ('error_rate', if(StatusCode = 'Error', 'error', 'ok')),
  ('finish_reason', toString(FinishReason)),
  ('tool_call_rate', if(FinishReason = '', '', if(FinishReason IN ('tool_calls', 'tool_use', 'function_call'), 'tool_call', 'no_tool_call'))),
  ('registration', if(PromptRegistration = '', 'unknown', toString(PromptRegistration)))
])`;

function targetPredicate(t: SignalTarget, params: QueryParams): string {
  params.prompt = t.prompt;
  if (t.version !== undefined) {
    params.version = t.version;
    return 'PromptName = {prompt:String} AND PromptVersion = {version:String}';
  }
  params.alias = t.alias;
  return 'PromptName = {prompt:String} AND PromptAlias = {alias:String}';
}

interface BinRow {
  signal: string;
  bin: string;
  n: number | string;
}

export async function signalHistograms(exec: ClickHouseExecutor, projectId: string, target: SignalTarget, w: { from: Date; to: Date }): Promise<SignalBin[]> {
  const params: QueryParams = { project: projectId, from: chTime(w.from), to: chTime(w.to) };
  const pred = targetPredicate(target, params);
  const rows = await exec.query<BinRow>(
    `SELECT s.1 AS signal, s.2 AS bin, count() AS n
     FROM (
       SELECT Duration, StatusCode, InputTokens, OutputTokens, FinishReason, PromptRegistration
       FROM promptline_response_list FINAL
       WHERE ProjectId = {project:String} AND ${pred} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND Excluded = 0
       SETTINGS do_not_merge_across_partitions_select_final = 1
     )
     ARRAY JOIN ${SIGNALS} AS s
     GROUP BY signal, bin`,
    params,
  );
  return rows.map((r) => ({ signal: r.signal, bin: r.bin, count: Number(r.n) }));
}

export async function evaluationHistograms(exec: ClickHouseExecutor, projectId: string, target: SignalTarget, w: { from: Date; to: Date }): Promise<SignalBin[]> {
  // Evaluation results name the version they judged, not the alias it was served through.
  if (target.version === undefined) return [];
  const params: QueryParams = { project: projectId, prompt: target.prompt, version: target.version, from: chTime(w.from), to: chTime(w.to) };
  const rows = await exec.query<BinRow>(
    `SELECT concat(e.1, ':', Scorer) AS signal, e.2 AS bin, count() AS n
     FROM (
       SELECT Scorer, Score, Label FROM promptline_evaluations FINAL
       WHERE ProjectId = {project:String} AND PromptName = {prompt:String} AND PromptVersion = {version:String}
         AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)}
     )
     ARRAY JOIN arrayFilter(e -> e.2 != '', [('score', if(Score IS NULL, '', toString(toInt64(floor(assumeNotNull(Score) * 100))))), ('label', toString(Label))]) AS e
     GROUP BY signal, bin`,
    params,
  );
  return rows.map((r) => ({ signal: r.signal, bin: r.bin, count: Number(r.n) }));
}

export async function targetTimes(exec: ClickHouseExecutor, projectId: string, target: SignalTarget): Promise<{ firstResponse: Date | null; evaluations: { from: Date; to: Date } | null }> {
  const params: QueryParams = { project: projectId };
  const pred = targetPredicate(target, params);
  const [first] = await exec.query<{ t: string | null }>(
    `SELECT toString(min(Timestamp)) AS t, count() AS n FROM promptline_response_list WHERE ProjectId = {project:String} AND ${pred} AND Excluded = 0 HAVING n > 0`,
    params,
  );
  let evaluations: { from: Date; to: Date } | null = null;
  if (target.version !== undefined) {
    const [e] = await exec.query<{ f: string; l: string }>(
      `SELECT toString(min(Timestamp)) AS f, toString(max(Timestamp)) AS l, count() AS n FROM promptline_evaluations
       WHERE ProjectId = {project:String} AND PromptName = {prompt:String} AND PromptVersion = {version:String} HAVING n > 0`,
      params,
    );
    if (e) evaluations = { from: new Date(`${e.f.replace(' ', 'T')}Z`), to: new Date(`${e.l.replace(' ', 'T')}Z`) };
  }
  return { firstResponse: first?.t ? new Date(`${first.t.replace(' ', 'T')}Z`) : null, evaluations };
}
