import { createTwoFilesPatch, diffLines } from 'diff';
import type { PromptTemplate, PromptVersion } from '../domain/prompt.ts';

// The difference between two versions: a unified diff of the text, and for chat templates the
// same per message, with the messages paired by position.

export interface VersionDiff {
  name: string;
  from: number;
  to: number;
  type: 'text' | 'chat' | 'mixed';
  /** A unified diff of the whole template (chat messages as "[role]" blocks). */
  unified: string;
  added: number;
  removed: number;
  messages?: Array<{ index: number; change: 'added' | 'removed' | 'changed' | 'same'; from?: { role: string; content: string }; to?: { role: string; content: string } }>;
}

function asText(t: PromptTemplate): string {
  const text = t.type === 'text' ? t.text : t.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

export function diffVersions(a: PromptVersion, b: PromptVersion): VersionDiff {
  const from = asText(a.template);
  const to = asText(b.template);
  let added = 0;
  let removed = 0;
  for (const part of diffLines(from, to)) {
    if (part.added) added += part.count ?? 0;
    if (part.removed) removed += part.count ?? 0;
  }
  const out: VersionDiff = {
    name: a.name,
    from: a.version,
    to: b.version,
    type: a.template.type === b.template.type ? a.template.type : 'mixed',
    unified: createTwoFilesPatch(`${a.name}/${a.version}`, `${b.name}/${b.version}`, from, to, '', '', { context: 3 }),
    added,
    removed,
  };
  if (a.template.type === 'chat' && b.template.type === 'chat') {
    const left = a.template.messages;
    const right = b.template.messages;
    out.messages = Array.from({ length: Math.max(left.length, right.length) }, (_, i) => {
      const f = left[i];
      const t = right[i];
      const change = !f ? 'added' : !t ? 'removed' : f.role === t.role && f.content === t.content ? 'same' : 'changed';
      return { index: i, change, ...(f ? { from: f } : {}), ...(t ? { to: t } : {}) };
    });
  }
  return out;
}
