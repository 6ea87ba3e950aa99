import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, seg } from '../api.ts';
import { ErrorBox } from './common.tsx';
import { errorOf, versionPath } from './prompts-common.tsx';
import type { RegistryChatMessage, RegistryChatRole, RegistryTemplate, RegistryVersion } from '../types.ts';

// Registering a new version: a text template or chat messages, a commit message and tags. The
// editor starts from the newest version's template; on success the reader lands on the new version.
// The template fields (useTemplateEditor) are also the proposal form's (proposals-form.tsx).

const ROLES: RegistryChatRole[] = ['system', 'developer', 'user', 'assistant', 'tool'];

function asText(t: RegistryTemplate): string {
  return t.type === 'text' ? t.text : t.messages.map((m) => m.content).join('\n\n');
}

function asMessages(t: RegistryTemplate): RegistryChatMessage[] {
  return t.type === 'chat' ? t.messages.map((m) => ({ ...m })) : [{ role: 'system', content: t.text }];
}

/** The template fields of an editor (text, or chat messages with their roles) and the value they hold, as the API takes it. */
export function useTemplateEditor(start: RegistryTemplate): { fields: JSX.Element; template: string | { messages: RegistryChatMessage[] } } {
  const [kind, setKind] = useState<'text' | 'chat'>(start.type);
  const [text, setText] = useState(asText(start));
  const [messages, setMessages] = useState<RegistryChatMessage[]>(asMessages(start));

  const switchKind = (next: 'text' | 'chat') => {
    if (next === kind) return;
    if (next === 'chat') setMessages(asMessages({ type: 'text', text }));
    else setText(asText({ type: 'chat', messages }));
    setKind(next);
  };
  const setMessage = (i: number, change: Partial<RegistryChatMessage>) => setMessages(messages.map((m, j) => (j === i ? { ...m, ...change } : m)));
  const fields = (
    <>
      <label>
        Template type
        <select value={kind} onChange={(e) => switchKind(e.currentTarget.value === 'chat' ? 'chat' : 'text')}>
          <option value="text">Text</option>
          <option value="chat">Chat messages</option>
        </select>
      </label>
      {kind === 'text' ? (
        <label class="block">
          Template
          <textarea rows={10} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
      ) : (
        <fieldset class="messages">
          <legend>Messages</legend>
          {messages.map((m, i) => (
            <div class="message-row" key={i}>
              <label>
                Role of message {i + 1}
                <select value={m.role} onChange={(e) => setMessage(i, { role: e.currentTarget.value as RegistryChatRole })}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              </label>
              <label class="block grow">
                Content of message {i + 1}
                <textarea rows={4} required value={m.content} onInput={(e) => setMessage(i, { content: e.currentTarget.value })} />
              </label>
              <button type="button" disabled={messages.length <= 1} onClick={() => setMessages(messages.filter((_, j) => j !== i))}>
                Remove message {i + 1}
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setMessages([...messages, { role: 'user', content: '' }])}>
            Add message
          </button>
        </fieldset>
      )}
    </>
  );
  return { fields, template: kind === 'text' ? text : { messages } };
}

export function RegisterVersion(props: { name: string; latest: RegistryVersion | null }) {
  const location = useLocation();
  const start: RegistryTemplate = props.latest?.template ?? { type: 'text', text: '' };
  const editor = useTemplateEditor(start);
  const [commitMessage, setCommitMessage] = useState('');
  const [tags, setTags] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);

  const submit = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      template: editor.template,
      commitMessage,
      tags: tags
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
    };
    api<RegistryVersion>(`/v1/prompts/${seg(props.name)}/versions`, { method: 'POST', body })
      .then((v) => location.route(versionPath(v.name, v.version)))
      .catch((err: unknown) => {
        setError(errorOf(err));
        setBusy(false);
      });
  };

  return (
    <form class="panel editor" aria-label="Register a new version" onSubmit={submit}>
      <h3>New version of {props.name}</h3>
      {props.latest ? <p class="hint">Starts from version {props.latest.version}. Versions are immutable: registering makes version {props.latest.version + 1}.</p> : null}
      {editor.fields}
      <div class="form-row">
        <label class="grow">
          Commit message
          <input type="text" required maxLength={2000} value={commitMessage} onInput={(e) => setCommitMessage(e.currentTarget.value)} />
        </label>
        <label>
          Tags (comma-separated)
          <input type="text" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </label>
      </div>
      <div class="form-row">
        <button type="submit" class="primary" disabled={busy || commitMessage.trim() === ''}>
          {busy ? 'Registering…' : 'Register version'}
        </button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}
