import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api, setUnauthorizedHandler, storedKey, storedProject, storeKey, storeProject, ApiError } from './api.ts';
import type { SessionInfo, Permission } from './types.ts';

// Who is signed in, and what the key may do. The console offers only the controls the key's
// permissions allow; the server checks every call anyway.

export interface SessionState {
  info: SessionInfo | null;
  /** The project the views show: the key's own, or the one an instance admin switched to. */
  project: string;
  /** Whether the first check of a stored key is still running. */
  checking: boolean;
  signIn(key: string): Promise<void>;
  signOut(): void;
  switchProject(project: string): void;
  may(permission: Permission): boolean;
}

const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export function SessionProvider(props: { children: ComponentChildren }) {
  const [info, setInfo] = useState<SessionInfo | null>(null);
  const [checking, setChecking] = useState(true);
  const [project, setProject] = useState<string>(storedProject() ?? '');

  useEffect(() => {
    setUnauthorizedHandler(() => {
      storeKey(null);
      setInfo(null);
    });
    // With a stored key, or on a server without keys (development on loopback), ask who we are.
    api<SessionInfo>('/v1/session', storedKey() ? {} : { key: '' })
      .then((s) => {
        setInfo(s);
        if (!storedProject()) setProject(s.project);
      })
      .catch((e: unknown) => {
        if (!(e instanceof ApiError) || e.status !== 401) console.warn('session check failed', e);
        storeKey(null);
      })
      .finally(() => setChecking(false));
  }, []);

  const state: SessionState = {
    info,
    project: project || info?.project || '',
    checking,
    async signIn(key: string) {
      const s = await api<SessionInfo>('/v1/session', { key });
      storeKey(key);
      storeProject(null);
      setProject(s.project);
      setInfo(s);
    },
    signOut() {
      storeKey(null);
      storeProject(null);
      setInfo(null);
      setProject('');
    },
    switchProject(p: string) {
      storeProject(info && p === info.project ? null : p);
      setProject(p);
    },
    may(permission: Permission) {
      return info?.permissions.includes(permission) ?? false;
    },
  };
  return <SessionContext.Provider value={state}>{props.children}</SessionContext.Provider>;
}
