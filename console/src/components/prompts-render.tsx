import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { ErrorBox } from './common.tsx';
import { TemplateView, errorOf } from './prompts-common.tsx';
import type { RegistryRender, RegistryVersion } from '../types.ts';

// Rendering a version with values for its {{variables}}, as an app would before calling a model
// (no model is called).

export function RenderVersion(props: { version: RegistryVersion }) {
  const v = props.version;
  const [values, setValues] = useState<ReadonlyMap<string, string>>(new Map());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [result, setResult] = useState<RegistryRender | null>(null);
  return (
    <form
      class="panel render"
      aria-label="Render with variables"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        // A Map keeps variable names such as "__proto__" as data on the way to JSON.
        const variables = Object.fromEntries(new Map(v.variables.map((name) => [name, values.get(name) ?? ''])));
        api<RegistryRender>(`/v1/prompts/${seg(v.name)}/versions/${seg(v.version)}/render`, { method: 'POST', body: { variables } })
          .then((r) => setResult(r))
          .catch((err: unknown) => {
            setResult(null);
            setError(errorOf(err));
          })
          .finally(() => setBusy(false));
      }}
    >
      <h2>Render with variables</h2>
      {v.variables.length === 0 ? <p class="hint">This template uses no variables.</p> : null}
      <div class="form-row">
        {v.variables.map((name) => (
          <label key={name}>
            {name}
            <input type="text" value={values.get(name) ?? ''} onInput={(e) => setValues(new Map(values).set(name, e.currentTarget.value))} />
          </label>
        ))}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Rendering…' : 'Render'}
        </button>
      </div>
      <ErrorBox error={error} />
      {result ? (
        <div class="rendered">
          <h3>Rendered</h3>
          <TemplateView template={result.rendered} label="Rendered template" />
        </div>
      ) : null}
    </form>
  );
}
