import type { ResolvedSpan } from '../../../collector/lineage-resolver.ts';
import { attrToString, spanKindName, statusCodeName, type AttrMap } from '../../domain/span.ts';

// Encodes resolved spans as JSONEachRow for otel_traces. Built as text directly: attribute keys
// are written with JSON.stringify as data and never become object keys on the way.

/** Columns of otel_traces written at ingest, in the order the rows below use. */
export const SPAN_COLUMNS = [
  'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName',
  'ResourceAttributes', 'ScopeName', 'ScopeVersion', 'SpanAttributes', 'Duration', 'StatusCode', 'StatusMessage',
  'Events.Timestamp', 'Events.Name', 'Events.Attributes',
  'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes',
  'ProjectId', 'PromptName', 'PromptVersion', 'PromptAlias', 'PromptTemplateHash', 'PromptSpanId', 'PromptRegistration',
  'ModelProvider', 'ModelName', 'ResponseId', 'DatasetIds', 'AppName', 'AppVersion', 'ConversationId',
  'LineageOwnMask', 'LineageRevision',
] as const;

const NS_PER_S = 1_000_000_000n;

/** Nanoseconds since the epoch as "seconds.nanoseconds", which DateTime64(9) reads exactly. */
export function nanosToDateTime64(ns: bigint): string {
  const s = ns / NS_PER_S;
  const frac = (ns % NS_PER_S).toString().padStart(9, '0');
  return `${s}.${frac}`;
}

const q = JSON.stringify;

function mapJson(m: AttrMap): string {
  if (m.size === 0) return '{}';
  let out = '{';
  let first = true;
  for (const [k, v] of m) {
    out += (first ? '' : ',') + q(k) + ':' + q(attrToString(v));
    first = false;
  }
  return out + '}';
}

export function encodeSpanRow(projectId: string, r: ResolvedSpan): string {
  const s = r.span;
  const l = r.resolved;
  const serviceName = s.resource.attributes.get('service.name');
  const duration = s.endTimeUnixNano - s.startTimeUnixNano;
  return (
    '{"Timestamp":' + q(nanosToDateTime64(s.startTimeUnixNano)) +
    ',"TraceId":' + q(s.traceId) +
    ',"SpanId":' + q(s.spanId) +
    ',"ParentSpanId":' + q(s.parentSpanId) +
    ',"TraceState":' + q(s.traceState) +
    ',"SpanName":' + q(s.name) +
    ',"SpanKind":' + q(spanKindName(s.kind)) +
    ',"ServiceName":' + q(serviceName === undefined || serviceName === null ? '' : attrToString(serviceName)) +
    ',"ResourceAttributes":' + mapJson(s.resource.attributes) +
    ',"ScopeName":' + q(s.scope.name) +
    ',"ScopeVersion":' + q(s.scope.version) +
    ',"SpanAttributes":' + mapJson(s.attributes) +
    ',"Duration":' + q(duration.toString()) +
    ',"StatusCode":' + q(statusCodeName(s.statusCode)) +
    ',"StatusMessage":' + q(s.statusMessage) +
    ',"Events.Timestamp":[' + s.events.map((e) => q(nanosToDateTime64(e.timeUnixNano))).join(',') + ']' +
    ',"Events.Name":' + q(s.events.map((e) => e.name)) +
    ',"Events.Attributes":[' + s.events.map((e) => mapJson(e.attributes)).join(',') + ']' +
    ',"Links.TraceId":' + q(s.links.map((x) => x.traceId)) +
    ',"Links.SpanId":' + q(s.links.map((x) => x.spanId)) +
    ',"Links.TraceState":' + q(s.links.map((x) => x.traceState)) +
    ',"Links.Attributes":[' + s.links.map((x) => mapJson(x.attributes)).join(',') + ']' +
    ',"ProjectId":' + q(projectId) +
    ',"PromptName":' + q(l.prompt?.name ?? '') +
    ',"PromptVersion":' + q(l.prompt?.version ?? '') +
    ',"PromptAlias":' + q(l.prompt?.alias ?? '') +
    ',"PromptTemplateHash":' + q(l.prompt?.templateHash ?? '') +
    ',"PromptSpanId":' + q(l.promptSpanId) +
    ',"PromptRegistration":' + q(l.prompt ? (r.registration ?? '') : '') +
    ',"ModelProvider":' + q(l.model?.provider ?? '') +
    ',"ModelName":' + q(l.model?.name ?? '') +
    ',"ResponseId":' + q(l.responseId) +
    ',"DatasetIds":' + q(l.datasetIds) +
    ',"AppName":' + q(l.app.name) +
    ',"AppVersion":' + q(l.app.version) +
    ',"ConversationId":' + q(l.conversationId) +
    ',"LineageOwnMask":' + r.ownMask +
    ',"LineageRevision":' + r.revision +
    '}\n'
  );
}
