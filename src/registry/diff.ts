import { formatPatch, structuredPatch } from 'diff';
import { UnprocessableError } from '../common/errors.ts';
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

/**
 * The bound on one diff, which runs on the event loop. jsdiff's work grows with the square of the
 * edit distance (lines added plus lines removed), so it gives up past `maxEditLength` lines; the
 * `timeout` is a wall-clock backstop for a slow machine. At these values a diff that gives up has
 * held the loop for about a tenth of a second, where two entirely different 10,000-line versions
 * took 33 s unbounded.
 */
export const DIFF_LIMITS = Object.freeze({
  maxEditLength: 1_000,
  timeoutMs: 250,
});

/** The two versions differ by more lines than a diff is computed for. */
export class DiffTooLargeError extends UnprocessableError {
  constructor(name: string, from: number, to: number) {
    super(
      `versions ${from} and ${to} of ${name} differ too much to diff (more than ${DIFF_LIMITS.maxEditLength} lines added or removed, ` +
        `or more than ${DIFF_LIMITS.timeoutMs} ms of work); fetch both versions and compare them locally, or diff versions closer together`,
      'diff_too_large',
    );
  }
}

function asText(t: PromptTemplate): string {
  const text = t.type === 'text' ? t.text : t.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * Versions never change, so neither does their diff: the outcome is remembered, and a diff asked
 * for again (a script, or someone asking for a too-large diff over and over) costs nothing. Only
 * small answers and "too large" verdicts are kept, so the memory stays small.
 */
const remembered = new Map<string, VersionDiff | 'too_large'>();
const REMEMBERED_MAX = 2_000;
const REMEMBERED_ANSWER_MAX_CHARS = 64 * 1024;

function remember(key: string, outcome: VersionDiff | 'too_large'): void {
  if (outcome !== 'too_large' && outcome.unified.length > REMEMBERED_ANSWER_MAX_CHARS) return;
  if (remembered.size >= REMEMBERED_MAX) remembered.delete(remembered.keys().next().value!);
  remembered.set(key, outcome);
}

export function diffVersions(a: PromptVersion, b: PromptVersion): VersionDiff {
  const key = JSON.stringify([a.name, a.version, a.templateHash, b.version, b.templateHash]);
  const known = remembered.get(key);
  if (known === 'too_large') throw new DiffTooLargeError(a.name, a.version, b.version);
  if (known) return known;
  try {
    const out = computeDiff(a, b);
    remember(key, out);
    return out;
  } catch (err) {
    if (err instanceof DiffTooLargeError) remember(key, 'too_large');
    throw err;
  }
}

function computeDiff(a: PromptVersion, b: PromptVersion): VersionDiff {
  const from = asText(a.template);
  const to = asText(b.template);
  // One bounded pass: the patch's hunks hold every changed line, so they give the counts too.
  const patch = structuredPatch(`${a.name}/${a.version}`, `${b.name}/${b.version}`, from, to, '', '', {
    context: 3,
    maxEditLength: DIFF_LIMITS.maxEditLength,
    timeout: DIFF_LIMITS.timeoutMs,
  });
  if (patch === undefined) throw new DiffTooLargeError(a.name, a.version, b.version);
  let added = 0;
  let removed = 0;
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      if (line.startsWith('+')) added += 1;
      else if (line.startsWith('-')) removed += 1;
    }
  }
  const out: VersionDiff = {
    name: a.name,
    from: a.version,
    to: b.version,
    type: a.template.type === b.template.type ? a.template.type : 'mixed',
    unified: formatPatch(patch),
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
