import type { ImpactConnection, ImpactPathStep } from '../types.ts';

// How an affected entity is connected to the impact's starting point: the graph edges walked from
// it, or, where the graph has no path, the responses that name both.

const KIND_WORDS: Record<string, string> = {
  Prompt: 'prompt',
  PromptVersion: 'prompt version',
  Alias: 'alias',
  AliasMove: 'alias move',
  Model: 'model',
  Dataset: 'dataset',
  App: 'app',
  AppVersion: 'app version',
  EvalRun: 'evaluation run',
  Actor: 'actor',
};

/** An entity as a reader names it: "prompt version support-reply v2", "alias move support-reply@production #2". */
export function entityLabel(e: { kind: string; parts: readonly string[] }): string {
  const [a = '', b = '', c = ''] = e.parts;
  const kind = KIND_WORDS[e.kind] ?? e.kind;
  switch (e.kind) {
    case 'PromptVersion':
      return `${kind} ${a} v${b}`;
    case 'Alias':
      return `${kind} ${a}@${b}`;
    case 'AliasMove':
      return `${kind} ${a}@${b} #${c}`;
    case 'Model':
      return `${kind} ${a ? `${a}/` : ''}${b}`;
    case 'AppVersion':
      return `${kind} ${a} ${b}`;
    default:
      return `${kind} ${e.parts.join(' ')}`;
  }
}

function Step(props: { step: ImpactPathStep }) {
  const s = props.step;
  return (
    <li>
      <span class="entity">{entityLabel(s.from)}</span> <span class="rel">—{s.rel}→</span> <span class="entity">{entityLabel(s.to)}</span>
    </li>
  );
}

export function ImpactPath(props: { connection: ImpactConnection }) {
  const c = props.connection;
  if (c.via === 'responses' || c.path.length === 0) return <span class="muted">its responses (no graph path)</span>;
  return (
    <ol class="impact-path" aria-label={`graph path, ${c.path.length} ${c.path.length === 1 ? 'edge' : 'edges'}`}>
      {c.path.map((s, i) => (
        <Step key={i} step={s} />
      ))}
    </ol>
  );
}
