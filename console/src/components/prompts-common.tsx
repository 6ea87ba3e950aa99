import { seg, withQuery, type Query } from '../api.ts';
import type { RegistryAliasTarget, RegistryTemplate } from '../types.ts';

// Pieces the prompt views share: their paths, time ranges, and how a template and an alias
// target are shown.

/** A route parameter as text: the router has decoded it once; a name still percent-encoded is decoded again. */
export function decodeParam(value: string | undefined): string {
  if (value === undefined) return '';
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function promptPath(name: string, query: Query = {}): string {
  return withQuery(`/prompts/${seg(name)}`, query);
}

export function versionPath(name: string, version: number): string {
  return `/prompts/${seg(name)}/versions/${seg(version)}`;
}

export function comparePath(name: string, a: number | null, b: number | null, query: Query = {}): string {
  return withQuery(`/prompts/${seg(name)}/compare`, { a, b, ...query });
}

/** The responses list filtered as the API's GET /v1/responses is. */
export function responsesPath(query: Query): string {
  return withQuery('/responses', query);
}

/** A positive whole number from the URL, or null. */
export function versionParam(value: string | undefined): number | null {
  if (!value || !/^[1-9][0-9]{0,9}$/.test(value)) return null;
  return Number(value);
}

export const RANGES = [
  { value: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { value: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
] as const;

export type RangeValue = (typeof RANGES)[number]['value'];

export function rangeParam(value: string | undefined, fallback: RangeValue): RangeValue {
  return RANGES.find((r) => r.value === value)?.value ?? fallback;
}

/** The window a range names, ending now. */
export function rangeWindow(range: RangeValue): { from: string; to: string } {
  const ms = RANGES.find((r) => r.value === range)!.ms;
  const now = Date.now();
  return { from: new Date(now - ms).toISOString(), to: new Date(now).toISOString() };
}

export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

export function formatPercent(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return `${(x * 100).toFixed(digits)} %`;
}

export function formatNumber(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Where an alias points: one version, or the arms of a split with their weights. */
export function TargetText(props: { name: string; target: RegistryAliasTarget | null; link?: boolean }) {
  const t = props.target;
  if (!t) return <span class="muted">not set</span>;
  const version = (v: number) => (props.link === false ? <span>v{v}</span> : <a href={versionPath(props.name, v)}>v{v}</a>);
  if (t.split) {
    return (
      <span class="split-arms">
        split{' '}
        {t.split.arms.map((a, i) => (
          <span key={a.version}>
            {i > 0 ? ' · ' : ''}
            {version(a.version)} {formatNumber(a.weight)} %
          </span>
        ))}
      </span>
    );
  }
  if (t.version === null) return <span class="muted">not set</span>;
  return version(t.version);
}

/** A template as text, or as its chat messages with their roles. */
export function TemplateView(props: { template: RegistryTemplate; label?: string }) {
  const t = props.template;
  if (t.type === 'text') return <pre aria-label={props.label}>{t.text}</pre>;
  return (
    <div class="chat" aria-label={props.label}>
      {t.messages.map((m, i) => (
        <div class={`msg ${m.role}`} key={i}>
          <div class="role">{m.role}</div>
          <pre class="content">{m.content}</pre>
        </div>
      ))}
    </div>
  );
}

/** The tags of a version as badges. */
export function Tags(props: { tags: string[] }) {
  if (props.tags.length === 0) return <span class="muted">—</span>;
  return (
    <span class="tags">
      {props.tags.map((t) => (
        <span class="badge" key={t}>
          {t}
        </span>
      ))}
    </span>
  );
}

/** `2026-05-01T12:30:00.000Z` as a datetime-local value in the reader's time zone, to the second. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local value (the reader's time zone) as an ISO time, or null. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function errorOf(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
