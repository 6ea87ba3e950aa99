import type { ComponentChildren } from 'preact';
import { Facts, Time, formatMs } from './common.tsx';
import { PromptVersionLink, RegistrationBadge, StatusBadge, responsePath, responsesPath } from './investigate-bits.tsx';
import { MessagesView, readMessages } from './investigate-messages.tsx';
import { durationMsOf } from './investigate-waterfall.tsx';
import type { TraceSpan } from './investigate-types.ts';

// One span of a trace: its lineage (and which span it was read from), its messages as a chat,
// its attributes, resource attributes and events.

const SPLIT_KEYS = ['promptline.prompt.split_id', 'promptline.prompt.split', 'promptline.split.id'];

function splitOf(...spans: Array<TraceSpan | undefined>): string | null {
  for (const s of spans) {
    if (!s) continue;
    for (const k of SPLIT_KEYS) {
      const v = s.attributes[k];
      if (v) return v;
    }
  }
  return null;
}

function AttributeTable(props: { caption: string; attrs: Record<string, string> }) {
  const keys = Object.keys(props.attrs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (keys.length === 0) return <p class="muted">No {props.caption.toLowerCase()}.</p>;
  return (
    <table class="attributes">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k}>
            <th scope="row" class="mono">
              {k}
            </th>
            <td class="mono value">{props.attrs[k]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SpanButton(props: { span: TraceSpan; onSelect: (id: string) => void; children?: ComponentChildren }) {
  return (
    <button type="button" class="link" onClick={() => props.onSelect(props.span.spanId)}>
      {props.children ?? props.span.name}
    </button>
  );
}

export function SpanDetail(props: { span: TraceSpan; byId: Map<string, TraceSpan>; onSelect: (spanId: string) => void }) {
  const s = props.span;
  const l = s.lineage;
  const parent = s.parentSpanId ? props.byId.get(s.parentSpanId) : undefined;
  const promptSpan = l.promptSpanId ? props.byId.get(l.promptSpanId) : undefined;
  const inherited = l.prompt !== null && l.promptSpanId !== null && l.promptSpanId !== s.spanId;
  const split = splitOf(s, promptSpan);
  const messages = readMessages(s.attributes, s.events);

  let from: ComponentChildren = null;
  if (l.prompt) {
    if (!inherited) from = <span class="inherited">set on this span</span>;
    else if (promptSpan)
      from = (
        <span class="inherited">
          inherited from <SpanButton span={promptSpan} onSelect={props.onSelect} />
        </span>
      );
    else
      from = (
        <span class="inherited">
          inherited from span <code>{l.promptSpanId}</code> (not in this trace)
        </span>
      );
  }

  return (
    <div class="span-detail">
      <section class="panel" aria-labelledby="span-title">
        <h2 id="span-title">
          <span class="muted">Span</span> <span class="span-name">{s.name}</span>
        </h2>
        <Facts
          rows={[
            ['Span id', <code>{s.spanId}</code>],
            ['Parent', parent ? <SpanButton span={parent} onSelect={props.onSelect} /> : s.parentSpanId ? <code>{s.parentSpanId}</code> : 'none (root)'],
            ['Kind', s.kind],
            ['Service', s.serviceName],
            ['Start', <Time iso={s.timestamp} />],
            ['Duration', formatMs(durationMsOf(s))],
            ['Status', <StatusBadge status={s.status} />],
          ]}
        />
      </section>

      <section class="panel" aria-labelledby="span-lineage">
        <h3 id="span-lineage">Lineage</h3>
        <Facts
          rows={[
            [
              'Prompt',
              l.prompt ? (
                <>
                  <PromptVersionLink name={l.prompt.name} version={l.prompt.version} />{' '}
                  {l.prompt.version !== null ? (
                    <a class="hint" href={responsesPath({ prompt: l.prompt.name, version: l.prompt.version })}>
                      responses of this version
                    </a>
                  ) : null}
                </>
              ) : (
                'none recorded'
              ),
            ],
            ['Prompt read from', from],
            ['Registration', l.prompt ? <RegistrationBadge registration={l.prompt.registration} /> : null],
            ['Commit message', l.prompt?.commitMessage],
            ['Author', l.prompt?.author],
            ['Alias', l.prompt?.alias],
            ['Split', split ? <code>{split}</code> : null],
            ['Template hash', l.prompt?.templateHash ? <code>{l.prompt.templateHash}</code> : null],
            ['Model', l.model ? [l.model.provider, l.model.name].filter(Boolean).join(' / ') : null],
            [
              'Datasets',
              l.datasets.length > 0
                ? l.datasets.map((d, i) => (
                    <span key={d.id}>
                      {i > 0 ? ', ' : ''}
                      <a href={responsesPath({ dataset: d.id })}>{d.id}</a>
                    </span>
                  ))
                : null,
            ],
            [
              'App',
              l.app.name ? (
                <a href={responsesPath({ app: l.app.name, app_version: l.app.version })}>
                  {l.app.name}
                  {l.app.version ? ` ${l.app.version}` : ''}
                </a>
              ) : null,
            ],
            ['Conversation', l.conversationId ? <a href={responsesPath({ conversation: l.conversationId })}>{l.conversationId}</a> : null],
            ['Response id', l.responseId ? <a href={responsePath(l.responseId)}>{l.responseId}</a> : null],
          ]}
        />
      </section>

      <MessagesView messages={messages} />

      <section class="panel" aria-labelledby="span-attributes">
        <h3 id="span-attributes">Attributes</h3>
        <AttributeTable caption="Span attributes" attrs={s.attributes} />
        <AttributeTable caption="Resource attributes" attrs={s.resourceAttributes} />
      </section>

      <section class="panel" aria-labelledby="span-events">
        <h3 id="span-events">Events</h3>
        {s.events.length === 0 ? (
          <p class="muted">No events.</p>
        ) : (
          <ol class="events">
            {s.events.map((e, i) => (
              <li key={i}>
                <Time iso={e.timestamp} /> <strong>{e.name}</strong>
                {Object.keys(e.attributes).length > 0 ? <AttributeTable caption={`Attributes of ${e.name}`} attrs={e.attributes} /> : null}
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}
