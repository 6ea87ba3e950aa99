import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { useSession } from '../session.tsx';
import { ErrorBox } from '../components/common.tsx';

export function SignInView() {
  const session = useSession();
  const location = useLocation();
  const [key, setKey] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="signin">
      <h1>Sign in to Promptline</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          session
            .signIn(key.trim())
            .then(() => {
              const next = location.query.next;
              location.route(next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/responses', true);
            })
            .catch((err: unknown) => setError(err instanceof Error ? err : new Error(String(err))))
            .finally(() => setBusy(false));
        }}
      >
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <p class="hint">The key stays in this browser tab only and is forgotten when the tab closes.</p>
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}
