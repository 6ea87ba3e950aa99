import { seg, withQuery } from '../api.ts';
import type { AliasTarget, Registration } from './investigate-types.ts';

// Small pieces the responses, trace and response views share: badges, prompt links, times with
// nanoseconds. Links are built only from our own paths; data is path segments or query values.

const REGISTRATION_TEXT: Record<Registration, string> = {
  registered: 'registered',
  template_mismatch: 'template mismatch',
  registered_later: 'registered later',
  unregistered: 'unregistered',
};

const REGISTRATION_CLASS: Record<Registration, string> = {
  registered: 'ok',
  template_mismatch: 'warn',
  registered_later: 'warn',
  unregistered: 'error',
};

export function RegistrationBadge(props: { registration: Registration | null | undefined }) {
  const r = props.registration;
  if (!r) return <span class="muted">—</span>;
  return <span class={`badge ${REGISTRATION_CLASS[r] ?? ''}`}>{REGISTRATION_TEXT[r] ?? r}</span>;
}

/** error, ok or unset, whatever the spelling (Error, STATUS_CODE_ERROR …). */
export function statusOf(code: string | null | undefined): 'error' | 'ok' | 'unset' {
  const c = (code ?? '').toLowerCase();
  if (c.includes('error') || c === '2') return 'error';
  if (c.includes('ok') || c === '1') return 'ok';
  return 'unset';
}

export function StatusBadge(props: { status: { code: string; message: string } | null | undefined }) {
  const s = statusOf(props.status?.code);
  const message = props.status?.message ?? '';
  if (s === 'error')
    return (
      <span class="badge error" title={message || undefined}>
        error{message ? `: ${message}` : ''}
      </span>
    );
  if (s === 'ok') return <span class="badge ok">ok</span>;
  return <span class="badge">unset</span>;
}

/** The version page of a prompt version, or null when the version is not a number. */
export function versionPath(name: string, version: number | string | null | undefined): string | null {
  if (version === null || version === undefined || !/^\d{1,15}$/.test(String(version))) return null;
  return `/prompts/${seg(name)}/versions/${seg(version)}`;
}

/** `name@version`, linked to the version page when there is one. */
export function PromptVersionLink(props: { name: string; version: number | string | null | undefined }) {
  const href = versionPath(props.name, props.version);
  const label = props.version === null || props.version === undefined || props.version === '' ? props.name : `${props.name}@${props.version}`;
  if (!href) return <span class="mono">{label}</span>;
  return (
    <a class="mono" href={href}>
      {label}
    </a>
  );
}

export function tracePath(traceId: string, spanId?: string | null): string {
  return withQuery(`/traces/${seg(traceId)}`, { span: spanId ?? undefined });
}

export function responsePath(responseId: string): string {
  return `/responses/${seg(responseId)}`;
}

export function responsesPath(query: Record<string, string | number | null | undefined>): string {
  return withQuery('/responses', query);
}

/** Where an alias pointed: v2, or the arms of a split. */
export function targetText(t: AliasTarget | null | undefined): string {
  if (!t) return '—';
  if (t.split) return t.split.arms.map((a) => `v${a.version} ${a.weight} %`).join(' / ');
  return t.version === null ? '—' : `v${t.version}`;
}

/** Milliseconds since 1970 with the sub-millisecond digits of an ISO time kept (spans carry nanoseconds). */
export function isoToMs(iso: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(iso);
  if (!m) return Date.parse(iso);
  const whole = Date.parse(`${m[1]!}${m[3] || 'Z'}`);
  const fraction = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + fraction;
}
