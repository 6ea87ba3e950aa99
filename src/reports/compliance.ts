import { createHash } from 'node:crypto';
import type { RegistryService } from '../registry/registry-service.ts';
import type { SpanLineage, SpanQueries } from '../storage/span-store.ts';
import type { SpanAnalytics } from '../storage/span-analytics.ts';
import type { ImpactService } from '../impact/impact-service.ts';
import { BadRequestError, NotFoundError, PromptlineError } from '../common/errors.ts';
import { formatPromptUri } from '../registry/uri.ts';
import { originSection } from './origin.ts';
import { proposalSections, type ProposalReader } from './proposal-section.ts';
import { registrationAtTheTime, type PromptVersion, type RegistrationAtTheTime } from '../domain/prompt.ts';

// The decision chain behind a response, a prompt version or an app version, for a compliance
// reviewer: response ← trace ← app version ← prompt version (commit message, author, and the alias
// history as it stood then) ← datasets ← evaluation evidence ← model, with the registry records
// behind it and a content hash that pins the report down. A response's report says what held when
// the response was produced: a version registered after it is named as such, never as its record.

export type ReportSubject = { responseId: string } | { prompt: string; version: number } | { app: string; appVersion: string };

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  detail: string;
}

export interface ComplianceReport {
  title: string;
  subject: Record<string, string | number>;
  generatedAt: string;
  generator: string;
  sections: ReportSection[];
  auditEntries: AuditEntry[];
  /** sha256 of the canonical JSON of the report without this field. */
  contentHash: string;
}

export interface ReportSection {
  heading: string;
  /** Facts as label/value pairs, in order. */
  facts: Array<[string, string]>;
  /** Optional tables. */
  tables?: Array<{ caption: string; columns: string[]; rows: string[][] }>;
  /** A verbatim block (a template). */
  block?: string;
}

export interface ReportDeps {
  spans: SpanQueries;
  analytics: SpanAnalytics;
  registry: RegistryService;
  impact: ImpactService;
  version: string;
  /** The proposals behind versions (review and promote); without it, reports name none. */
  proposals?: ProposalReader;
}

const dash = (s: string | null | undefined) => (s === null || s === undefined || s === '' ? '—' : s);

async function optional<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof PromptlineError && err.status === 404) return null;
    throw err;
  }
}

export async function buildReport(deps: ReportDeps, projectId: string, subject: ReportSubject, now = new Date()): Promise<ComplianceReport> {
  const body =
    'responseId' in subject
      ? await responseReport(deps, projectId, subject.responseId)
      : 'prompt' in subject
        ? await promptVersionReport(deps, projectId, subject.prompt, subject.version)
        : await appVersionReport(deps, projectId, subject.app, subject.appVersion);
  const report: Omit<ComplianceReport, 'contentHash'> = { ...body, generatedAt: now.toISOString(), generator: `Promptline ${deps.version}` };
  return { ...report, contentHash: contentHash(report) };
}

/** Canonical JSON (keys sorted) hashed with sha256: anyone can check a filed report. */
export function contentHash(report: Omit<ComplianceReport, 'contentHash'>): string {
  return createHash('sha256').update(canonical(report)).digest('hex');
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

type Body = Pick<ComplianceReport, 'title' | 'subject' | 'sections' | 'auditEntries'>;

async function responseReport(deps: ReportDeps, projectId: string, responseId: string): Promise<Body> {
  const spans = await deps.spans.findByResponseId(projectId, responseId);
  const span = spans.find((s) => s.lineage.prompt) ?? spans[0];
  if (!span) throw new NotFoundError(`no response with id "${responseId}" has been received`);
  const l = span.lineage;
  const trace = await deps.spans.findByTraceId(projectId, span.traceId);
  const at = new Date(span.timestamp);
  const sections: ReportSection[] = [];
  const audit: AuditEntry[] = [];

  sections.push({
    heading: 'Response',
    facts: [
      ['Response id', responseId],
      ['Time', span.timestamp],
      ['Span', `${span.spanName} (${span.spanId})`],
      ['Conversation', dash(l.conversationId)],
    ],
  });
  sections.push({
    heading: 'Trace',
    facts: [
      ['Trace id', span.traceId],
      ['Spans', String(trace.length)],
      ['Services', [...new Set(trace.map((s) => s.serviceName))].join(', ') || '—'],
    ],
    tables: [{ caption: 'Spans that carry lineage', columns: ['Time', 'Span', 'Prompt', 'Model', 'Response id'], rows: trace.filter((s) => s.lineage.prompt || s.lineage.model || s.lineage.responseId).map((s) => [s.timestamp, s.spanName, s.lineage.prompt ? `${s.lineage.prompt.name} v${s.lineage.prompt.version}` : '—', dash(s.lineage.model?.name), dash(s.lineage.responseId)]) }],
  });
  sections.push({ heading: 'App version', facts: [['App', dash(l.app.name)], ['Version', dash(l.app.version)]] });

  if (l.prompt) {
    const { status, version: registered } = await registrationThen(deps, projectId, span, l.prompt);
    // Only a version registered when the response was produced is behind it: one registered later
    // is a fact about the prompt, not the record the response was made under.
    const v = status === 'registered' || status === 'template_mismatch' ? registered : null;
    sections.push({
      heading: 'Prompt version',
      facts: [
        ['Prompt', l.prompt.name],
        ['Version', dash(l.prompt.version)],
        ['Registry', registryFact(status, registered)],
        ['Commit message', dash(v?.commitMessage)],
        ['Author', dash(v?.author)],
        ['Registered at', dash(v?.createdAt.toISOString())],
        ['Template hash (sent)', dash(l.prompt.templateHash)],
        ['Template hash (registered)', dash(v?.templateHash)],
        ['Read from span', dash(l.promptSpanId)],
      ],
      ...(v ? { block: v.template.type === 'text' ? v.template.text : v.template.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n') } : {}),
    });
    const origin = originSection(v);
    if (origin) sections.push(origin);
    if (v) audit.push({ at: v.createdAt.toISOString(), actor: v.author, action: 'registered prompt version', detail: `${formatPromptUri({ name: v.name, version: v.version })}: ${v.commitMessage}` });
    if (v) {
      const reviewed = await proposalSections(deps.proposals, projectId, v.name, v.version, at);
      sections.push(...reviewed.sections);
      audit.push(...reviewed.audit);
    }
    if (l.prompt.alias) {
      const history = (await optional(deps.registry.aliasHistory(projectId, l.prompt.name, l.prompt.alias))) ?? [];
      const then = history.filter((m) => m.at <= at);
      const current = then.at(-1);
      sections.push({
        heading: `Alias "${l.prompt.alias}" at the time of the response`,
        facts: [
          ['Pointed to', current ? (current.to.split ? current.to.split.arms.map((a) => `v${a.version} ${a.weight} %`).join(', ') : `v${current.to.version}`) : 'the alias did not exist yet'],
          ['Since', current ? `${current.at.toISOString()} (move ${current.seq} by ${current.actor}: ${current.reason})` : '—'],
        ],
        tables: [{ caption: 'Alias history up to the response', columns: ['Move', 'Time', 'Actor', 'From', 'To', 'Reason'], rows: then.map((m) => [String(m.seq), m.at.toISOString(), m.actor, target(m.from), target(m.to), m.reason + (m.rollback ? ' (rollback)' : '')]) }],
      });
      for (const m of then) audit.push({ at: m.at.toISOString(), actor: m.actor, action: `moved alias ${m.alias}`, detail: `${l.prompt.name}: ${target(m.from)} → ${target(m.to)}: ${m.reason}` });
    }
  } else {
    sections.push({ heading: 'Prompt version', facts: [['Prompt', 'none recorded for this response']] });
  }

  sections.push({ heading: 'Datasets', facts: l.datasetIds.length > 0 ? l.datasetIds.map((d) => ['Dataset', d] as [string, string]) : [['Datasets', 'none recorded']] });

  const ofResponse = await deps.analytics.evaluationsOfResponse(projectId, span.traceId, span.spanId, responseId);
  const ofVersion = l.prompt?.version
    ? await deps.analytics.evaluationsFor(projectId, { kind: 'promptVersion', name: l.prompt.name, version: l.prompt.version }, { from: new Date(0), to: new Date(at.getTime() + 1), bucketSeconds: 3600 })
    : [];
  sections.push({
    heading: 'Evaluation evidence',
    facts: [
      ['Results on this response', String(ofResponse.length)],
      ['Evaluation runs of this prompt version before it', String(ofVersion.length)],
    ],
    tables: [
      { caption: 'On this response', columns: ['Run', 'Scorer', 'Score', 'Label'], rows: ofResponse.map((e) => [e.runId, e.scorer, e.score === null ? '—' : String(e.score), dash(e.label)]) },
      { caption: 'Of the prompt version', columns: ['Run', 'Scorer', 'Results', 'Mean score', 'Datasets', 'Last'], rows: ofVersion.map((e) => [e.runId, e.scorer, String(e.results), e.meanScore === null ? '—' : e.meanScore.toFixed(3), e.datasets.join(', ') || '—', e.lastSeen]) },
    ],
  });
  sections.push({ heading: 'Model', facts: [['Provider', dash(l.model?.provider)], ['Model', dash(l.model?.name)]] });

  return { title: `Decision chain for response ${responseId}`, subject: { responseId }, sections, auditEntries: sortAudit(audit) };
}

/** What held when the response was produced (see registrationAtTheTime), and the version the registry holds now. */
async function registrationThen(deps: ReportDeps, projectId: string, span: SpanLineage, prompt: NonNullable<SpanLineage['lineage']['prompt']>) {
  const found = await deps.registry.registrationStatus(projectId, prompt);
  const now = found.version && found.status !== 'unregistered' ? { status: found.status, createdAt: found.version.createdAt } : null;
  return { status: registrationAtTheTime(span.registration, now, span.timestamp), version: now ? found.version : null };
}

function registryFact(status: RegistrationAtTheTime, version: PromptVersion | null): string {
  switch (status) {
    case 'registered':
      return 'registered';
    case 'template_mismatch':
      return 'registered, but the app sent another template';
    case 'registered_later':
      return `not registered when the response was produced; registered later, at ${version!.createdAt.toISOString()}`;
    case 'unregistered':
      return 'not registered';
  }
}

async function promptVersionReport(deps: ReportDeps, projectId: string, name: string, version: number): Promise<Body> {
  const v = await deps.registry.getVersion(projectId, name, version);
  const impact = await deps.impact.impact(projectId, { prompt: name, version, limit: 20 });
  const aliases = await deps.registry.listAliases(projectId, name);
  const audit: AuditEntry[] = [{ at: v.createdAt.toISOString(), actor: v.author, action: 'registered prompt version', detail: `${formatPromptUri({ name, version })}: ${v.commitMessage}` }];
  const moveRows: string[][] = [];
  for (const a of aliases) {
    for (const m of await deps.registry.aliasHistory(projectId, name, a.alias)) {
      const touches = [m.from, m.to].some((t) => t && (t.version === version || t.split?.arms.some((x) => x.version === version)));
      if (!touches) continue;
      moveRows.push([a.alias, String(m.seq), m.at.toISOString(), m.actor, target(m.from), target(m.to), m.reason + (m.rollback ? ' (rollback)' : '')]);
      audit.push({ at: m.at.toISOString(), actor: m.actor, action: `moved alias ${m.alias}`, detail: `${name}: ${target(m.from)} → ${target(m.to)}: ${m.reason}` });
    }
  }
  const sections: ReportSection[] = [
    {
      heading: 'Prompt version',
      facts: [
        ['Prompt', name],
        ['Version', String(version)],
        ['Commit message', v.commitMessage],
        ['Author', v.author],
        ['Registered at', v.createdAt.toISOString()],
        ['Derived from', v.baseVersion === null ? '—' : `v${v.baseVersion}`],
        ['Template hash', v.templateHash],
        ['Tags', v.tags.join(', ') || '—'],
      ],
      block: v.template.type === 'text' ? v.template.text : v.template.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n'),
    },
    ...[originSection(v)].filter((x) => x !== null),
    { heading: 'Alias moves to or from this version', facts: [['Moves', String(moveRows.length)]], tables: [{ caption: 'Moves', columns: ['Alias', 'Move', 'Time', 'Actor', 'From', 'To', 'Reason'], rows: moveRows }] },
    usageSection(impact),
  ];
  return { title: `Decision record for prompt ${name} version ${version}`, subject: { prompt: name, version }, sections, auditEntries: sortAudit(audit) };
}

async function appVersionReport(deps: ReportDeps, projectId: string, app: string, appVersion: string): Promise<Body> {
  const impact = await deps.impact.impact(projectId, { app, appVersion, limit: 20 });
  return {
    title: `Decision record for app ${app} version ${appVersion}`,
    subject: { app, appVersion },
    sections: [{ heading: 'App version', facts: [['App', app], ['Version', appVersion]] }, usageSection(impact)],
    auditEntries: [],
  };
}

function usageSection(impact: Awaited<ReturnType<ImpactService['impact']>>): ReportSection {
  return {
    heading: 'What it touched',
    facts: [
      ['Responses', String(impact.responses.count)],
      ['First seen', dash(impact.firstSeen)],
      ['Last seen', dash(impact.lastSeen)],
      ['Conversations', String(impact.conversations.count)],
    ],
    tables: [
      { caption: 'Prompt versions', columns: ['Prompt', 'Version', 'Responses'], rows: impact.promptVersions.map((p) => [p.name, p.version, String(p.count)]) },
      { caption: 'App versions', columns: ['App', 'Version', 'Responses', 'First seen', 'Last seen'], rows: impact.apps.map((a) => [a.name, a.version, String(a.count), a.firstSeen, a.lastSeen]) },
      { caption: 'Models', columns: ['Provider', 'Model', 'Responses'], rows: impact.models.map((m) => [dash(m.provider), m.name, String(m.count)]) },
      { caption: 'Datasets', columns: ['Dataset', 'Responses'], rows: impact.datasets.map((d) => [d.id, String(d.count)]) },
      { caption: 'Evaluation runs', columns: ['Run', 'Scorer', 'Results', 'Mean score'], rows: impact.evaluations.map((e) => [e.runId, e.scorer, String(e.results), e.meanScore === null ? '—' : e.meanScore.toFixed(3)]) },
      { caption: 'Derived versions', columns: ['Prompt', 'Version', 'Hops'], rows: impact.derivedVersions.map((d) => [d.name, d.version, String(d.depth)]) },
    ],
  };
}

function target(t: { version: number | null; split: { arms: Array<{ version: number; weight: number }> } | null } | null): string {
  if (!t) return '—';
  return t.split ? t.split.arms.map((a) => `v${a.version} ${a.weight} %`).join(' / ') : `v${t.version}`;
}

function sortAudit(entries: AuditEntry[]): AuditEntry[] {
  return entries.sort((a, b) => a.at.localeCompare(b.at) || a.action.localeCompare(b.action));
}

export function parseSubject(q: { response_id?: string | undefined; prompt?: string | undefined; version?: number | undefined; app?: string | undefined; app_version?: string | undefined }): ReportSubject {
  if (q.response_id) return { responseId: q.response_id };
  if (q.prompt && q.version !== undefined) return { prompt: q.prompt, version: q.version };
  if (q.app && q.app_version) return { app: q.app, appVersion: q.app_version };
  throw new BadRequestError('name the report subject: response_id, or prompt and version, or app and app_version');
}
