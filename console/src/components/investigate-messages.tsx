// A span's messages, read from whichever convention carried them, shown as a chat:
//   - OpenTelemetry GenAI: gen_ai.system_instructions, gen_ai.input.messages, gen_ai.output.messages
//     (JSON lists of { role, parts: [{ type: 'text', content } | { type: 'tool_call', … } | …] }),
//     on the span or on an event;
//   - the older GenAI events (gen_ai.system.message, gen_ai.user.message, gen_ai.assistant.message,
//     gen_ai.tool.message, gen_ai.choice) and gen_ai.content.prompt / gen_ai.content.completion;
//   - OpenInference's flattened llm.input_messages.N.message.* and llm.output_messages.N.message.*;
//   - OpenLLMetry's flattened gen_ai.prompt.N.* and gen_ai.completion.N.*.
// Everything is read defensively: what does not parse is shown as it was sent. Content is text.

export type ChatPart =
  | { kind: 'text'; text: string }
  | { kind: 'tool_call'; name: string; arguments: string; id: string | null }
  | { kind: 'tool_result'; response: string; id: string | null }
  | { kind: 'other'; type: string; raw: string };

export interface ChatMessage {
  role: string;
  parts: ChatPart[];
  finishReason: string | null;
}

export interface Unreadable {
  key: string;
  raw: string;
  reason: string;
}

export interface SpanMessages {
  input: ChatMessage[];
  output: ChatMessage[];
  /** Where the messages were read from (attribute or event names). */
  sources: string[];
  unreadable: Unreadable[];
}

type Attrs = Record<string, string>;
type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Any value as text: strings as they are, everything else as indented JSON. */
function asText(v: Json): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2) ?? '';
  } catch {
    return '';
  }
}

/** Tool-call arguments: JSON text indented when it parses, else as sent. */
function argumentsText(v: Json): string {
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return asText(v);
}

function parseJson(raw: string): { ok: true; value: Json } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) as Json };
  } catch {
    return { ok: false };
  }
}

function str(v: Json): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

/** A GenAI part, or an OpenAI-style tool call { id, function: { name, arguments } }. */
function partOf(p: Json): ChatPart {
  if (typeof p === 'string') return { kind: 'text', text: p };
  if (!isObject(p)) return { kind: 'other', type: typeof p, raw: asText(p) };
  const type = str(p.type) ?? '';
  if (type === 'text' || (type === '' && 'content' in p)) return { kind: 'text', text: asText(p.content ?? p.text) };
  if (type === 'tool_call' || type === 'function' || isObject(p.function)) {
    const fn = isObject(p.function) ? p.function : p;
    return { kind: 'tool_call', name: str(fn.name) ?? '(unnamed tool)', arguments: argumentsText(fn.arguments), id: str(p.id) };
  }
  if (type === 'tool_call_response') return { kind: 'tool_result', response: asText(p.response ?? p.result), id: str(p.id) };
  if (type === 'reasoning') return { kind: 'other', type: 'reasoning', raw: asText(p.content) };
  return { kind: 'other', type: type || 'part', raw: asText(p) };
}

/** One message in any of the JSON shapes: { role, parts }, { role, content }, { role, content, tool_calls }. */
function messageOf(m: Json, fallbackRole: string): ChatMessage | null {
  if (typeof m === 'string') return { role: fallbackRole, parts: [{ kind: 'text', text: m }], finishReason: null };
  if (!isObject(m)) return null;
  const inner = isObject(m.message) ? m.message : m;
  const role = str(inner.role) ?? fallbackRole;
  const parts: ChatPart[] = [];
  if (Array.isArray(inner.parts)) parts.push(...inner.parts.map(partOf));
  if (inner.content !== undefined && inner.content !== null) {
    if (Array.isArray(inner.content)) parts.push(...inner.content.map(partOf));
    else parts.push({ kind: 'text', text: asText(inner.content) });
  }
  if (Array.isArray(inner.tool_calls)) parts.push(...inner.tool_calls.map(partOf));
  const finish = str(m.finish_reason) ?? str(inner.finish_reason);
  return { role, parts, finishReason: finish };
}

function messageList(raw: string, key: string, fallbackRole: string, unreadable: Unreadable[]): ChatMessage[] {
  const parsed = parseJson(raw);
  if (!parsed.ok) {
    unreadable.push({ key, raw, reason: 'is not JSON' });
    return [];
  }
  const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  const out: ChatMessage[] = [];
  for (const m of list) {
    const msg = messageOf(m, fallbackRole);
    if (msg) out.push(msg);
  }
  if (out.length === 0 && list.length > 0) unreadable.push({ key, raw, reason: 'holds no messages this console can read' });
  return out;
}

/** gen_ai.system_instructions: a list of parts (or text), shown as one system message. */
function systemInstructions(raw: string, key: string, unreadable: Unreadable[]): ChatMessage[] {
  const parsed = parseJson(raw);
  if (!parsed.ok) return [{ role: 'system', parts: [{ kind: 'text', text: raw }], finishReason: null }];
  const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  const parts = list.map(partOf);
  if (parts.length === 0) unreadable.push({ key, raw, reason: 'holds no instructions' });
  return parts.length > 0 ? [{ role: 'system', parts, finishReason: null }] : [];
}

/** GenAI JSON attributes, on a span or an event. */
function genAiJson(attrs: Attrs, where: string, into: SpanMessages): void {
  const sys = attrs['gen_ai.system_instructions'];
  const input = attrs['gen_ai.input.messages'];
  const output = attrs['gen_ai.output.messages'];
  if (sys !== undefined) {
    into.input.push(...systemInstructions(sys, `${where}gen_ai.system_instructions`, into.unreadable));
    into.sources.push(`${where}gen_ai.system_instructions`);
  }
  if (input !== undefined) {
    into.input.push(...messageList(input, `${where}gen_ai.input.messages`, 'user', into.unreadable));
    into.sources.push(`${where}gen_ai.input.messages`);
  }
  if (output !== undefined) {
    into.output.push(...messageList(output, `${where}gen_ai.output.messages`, 'assistant', into.unreadable));
    into.sources.push(`${where}gen_ai.output.messages`);
  }
}

const EVENT_ROLES: Record<string, string> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
};

/** The older GenAI events: one message each, content in attributes. */
function genAiEvents(events: Array<{ name: string; attributes: Attrs }>, into: SpanMessages): void {
  for (const e of events) {
    const a = e.attributes;
    const role = EVENT_ROLES[e.name];
    if (role) {
      const parts: ChatPart[] = [];
      const content = a.content ?? a['gen_ai.event.content'];
      if (content !== undefined) {
        // content may be text or JSON (a message, or a list of parts).
        const parsed = content.trim().startsWith('{') || content.trim().startsWith('[') ? parseJson(content) : { ok: false as const };
        const msg = parsed.ok ? messageOf(Array.isArray(parsed.value) ? { parts: parsed.value } : parsed.value, a.role ?? role) : null;
        if (msg && msg.parts.length > 0) parts.push(...msg.parts);
        else parts.push({ kind: 'text', text: content });
      }
      if (a.tool_calls !== undefined) {
        const parsed = parseJson(a.tool_calls);
        if (parsed.ok && Array.isArray(parsed.value)) parts.push(...parsed.value.map(partOf));
        else into.unreadable.push({ key: `${e.name} tool_calls`, raw: a.tool_calls, reason: 'is not a JSON list' });
      }
      if (role === 'tool' && parts.length > 0 && a.id) {
        const text = parts.map((p) => (p.kind === 'text' ? p.text : '')).join('\n');
        parts.splice(0, parts.length, { kind: 'tool_result', response: text, id: a.id });
      }
      into.input.push({ role: a.role ?? role, parts, finishReason: null });
      into.sources.push(`event ${e.name}`);
    } else if (e.name === 'gen_ai.choice') {
      const raw = a.message ?? a.content;
      let msg: ChatMessage | null = null;
      if (raw !== undefined) {
        const parsed = raw.trim().startsWith('{') ? parseJson(raw) : { ok: false as const };
        msg = parsed.ok ? messageOf(parsed.value, 'assistant') : { role: 'assistant', parts: [{ kind: 'text', text: raw }], finishReason: null };
      }
      if (a.tool_calls !== undefined) {
        const parsed = parseJson(a.tool_calls);
        msg ??= { role: 'assistant', parts: [], finishReason: null };
        if (parsed.ok && Array.isArray(parsed.value)) msg.parts.push(...parsed.value.map(partOf));
      }
      if (msg) {
        msg.finishReason = a.finish_reason ?? msg.finishReason;
        into.output.push(msg);
        into.sources.push('event gen_ai.choice');
      }
    } else if (e.name === 'gen_ai.content.prompt' && a['gen_ai.prompt'] !== undefined) {
      into.input.push(...messageListOrText(a['gen_ai.prompt'], 'user'));
      into.sources.push('event gen_ai.content.prompt');
    } else if (e.name === 'gen_ai.content.completion' && a['gen_ai.completion'] !== undefined) {
      into.output.push(...messageListOrText(a['gen_ai.completion'], 'assistant'));
      into.sources.push('event gen_ai.content.completion');
    } else if (a['gen_ai.input.messages'] !== undefined || a['gen_ai.output.messages'] !== undefined) {
      genAiJson(a, `event ${e.name}: `, into);
    }
  }
}

function messageListOrText(raw: string, role: string): ChatMessage[] {
  const parsed = raw.trim().startsWith('[') || raw.trim().startsWith('{') ? parseJson(raw) : { ok: false as const };
  if (parsed.ok) {
    const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
    const out = list.map((m) => messageOf(m, role)).filter((m): m is ChatMessage => m !== null);
    if (out.length > 0) return out;
  }
  return [{ role, parts: [{ kind: 'text', text: raw }], finishReason: null }];
}

/** Flattened messages: `PREFIX.N.REST` keys grouped by N, in order. */
function flattened(attrs: Attrs, prefix: RegExp): Array<Map<string, string>> {
  const byIndex = new Map<number, Map<string, string>>();
  for (const [k, v] of Object.entries(attrs)) {
    const m = prefix.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    let rest = byIndex.get(i);
    if (!rest) byIndex.set(i, (rest = new Map<string, string>()));
    rest.set(m[2]!, v);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, rest]) => rest);
}

/** Sub-lists inside a flattened message (contents.M…, tool_calls.M…), grouped by M. */
function subList(fields: Map<string, string>, prefix: string): Array<Map<string, string>> {
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.(.+)$`);
  const obj: Attrs = {};
  for (const [k, v] of fields) obj[k] = v;
  return flattened(obj, re);
}

/** OpenInference: llm.input_messages.N.message.{role,content,contents.M.message_content.text,tool_calls.M.tool_call.function.{name,arguments}}. */
function openInference(attrs: Attrs, direction: 'input' | 'output', into: SpanMessages): void {
  const list = flattened(attrs, new RegExp(`^llm\\.${direction}_messages\\.(\\d+)\\.message\\.(.+)$`));
  if (list.length === 0) return;
  for (const f of list) {
    const parts: ChatPart[] = [];
    const content = f.get('content');
    if (content !== undefined) parts.push({ kind: 'text', text: content });
    for (const c of subList(f, 'contents')) {
      const text = c.get('message_content.text');
      if (text !== undefined) parts.push({ kind: 'text', text });
      else {
        const type = c.get('message_content.type') ?? 'content';
        parts.push({ kind: 'other', type, raw: [...c.entries()].map(([k, v]) => `${k}: ${v}`).join('\n') });
      }
    }
    for (const t of subList(f, 'tool_calls')) {
      parts.push({ kind: 'tool_call', name: t.get('tool_call.function.name') ?? '(unnamed tool)', arguments: argumentsText(t.get('tool_call.function.arguments') ?? ''), id: t.get('tool_call.id') ?? null });
    }
    const toolCallId = f.get('tool_call_id');
    const role = f.get('role') ?? (direction === 'input' ? 'user' : 'assistant');
    if (role === 'tool' && toolCallId && parts.length === 1 && parts[0]!.kind === 'text') {
      parts[0] = { kind: 'tool_result', response: parts[0]!.text, id: toolCallId };
    }
    into[direction].push({ role, parts, finishReason: null });
  }
  into.sources.push(`llm.${direction}_messages`);
}

/** OpenLLMetry: gen_ai.prompt.N.{role,content} and gen_ai.completion.N.{role,content,finish_reason,tool_calls.M.{name,arguments}}. */
function openLlmetry(attrs: Attrs, into: SpanMessages): void {
  for (const [key, direction] of [
    ['prompt', 'input'],
    ['completion', 'output'],
  ] as const) {
    const list = flattened(attrs, new RegExp(`^gen_ai\\.${key}\\.(\\d+)\\.(.+)$`));
    if (list.length === 0) continue;
    for (const f of list) {
      const parts: ChatPart[] = [];
      const content = f.get('content');
      if (content !== undefined) parts.push({ kind: 'text', text: content });
      for (const t of subList(f, 'tool_calls')) parts.push({ kind: 'tool_call', name: t.get('name') ?? '(unnamed tool)', arguments: argumentsText(t.get('arguments') ?? ''), id: t.get('id') ?? null });
      into[direction].push({ role: f.get('role') ?? (direction === 'input' ? 'user' : 'assistant'), parts, finishReason: f.get('finish_reason') ?? null });
    }
    into.sources.push(`gen_ai.${key}.N`);
  }
}

export function readMessages(attrs: Attrs, events: Array<{ name: string; attributes: Attrs }>): SpanMessages {
  const out: SpanMessages = { input: [], output: [], sources: [], unreadable: [] };
  genAiJson(attrs, '', out);
  if (out.input.length === 0 && out.output.length === 0) genAiEvents(events, out);
  if (out.input.length === 0 && out.output.length === 0) {
    openInference(attrs, 'input', out);
    openInference(attrs, 'output', out);
  }
  if (out.input.length === 0 && out.output.length === 0) openLlmetry(attrs, out);
  return out;
}

const KNOWN_ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

function Part({ part }: { part: ChatPart }) {
  switch (part.kind) {
    case 'text':
      return <div class="content">{part.text}</div>;
    case 'tool_call':
      return (
        <div class="tool-call">
          <div class="tool-head">
            tool call <code>{part.name}</code>
            {part.id ? <span class="muted"> · {part.id}</span> : null}
          </div>
          {part.arguments ? <pre>{part.arguments}</pre> : null}
        </div>
      );
    case 'tool_result':
      return (
        <div class="tool-result">
          <div class="tool-head">tool result{part.id ? <span class="muted"> · {part.id}</span> : null}</div>
          <pre>{part.response}</pre>
        </div>
      );
    case 'other':
      return (
        <div class="other-part">
          <div class="tool-head">{part.type}</div>
          <pre>{part.raw}</pre>
        </div>
      );
  }
}

function Message({ m }: { m: ChatMessage }) {
  const roleClass = KNOWN_ROLES.has(m.role) ? m.role : 'other';
  return (
    <article class={`msg ${roleClass}`} aria-label={`${m.role} message`}>
      <div class="role">
        {m.role}
        {m.finishReason ? <span class="muted"> · finished: {m.finishReason}</span> : null}
      </div>
      {m.parts.length === 0 ? <div class="muted">(no content)</div> : m.parts.map((p, i) => <Part key={i} part={p} />)}
    </article>
  );
}

/** The chat, or nothing when the span carries no messages. */
export function MessagesView(props: { messages: SpanMessages }) {
  const m = props.messages;
  if (m.input.length === 0 && m.output.length === 0 && m.unreadable.length === 0) return null;
  return (
    <section class="panel" aria-labelledby="span-messages">
      <h3 id="span-messages">Messages</h3>
      {m.sources.length > 0 ? <p class="hint">Read from {[...new Set(m.sources)].join(', ')}.</p> : null}
      {m.input.length > 0 ? (
        <>
          <h4>Input</h4>
          <div class="chat">
            {m.input.map((msg, i) => (
              <Message key={i} m={msg} />
            ))}
          </div>
        </>
      ) : null}
      {m.output.length > 0 ? (
        <>
          <h4>Output</h4>
          <div class="chat">
            {m.output.map((msg, i) => (
              <Message key={i} m={msg} />
            ))}
          </div>
        </>
      ) : null}
      {m.unreadable.map((u) => (
        <div key={u.key} class="unreadable">
          <p>
            <code>{u.key}</code> {u.reason}; as sent:
          </p>
          <pre>{u.raw}</pre>
        </div>
      ))}
    </section>
  );
}
