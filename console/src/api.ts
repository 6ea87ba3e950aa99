// The console's one way to the server: the public API under /v1, with the signed-in key as a
// bearer header. The key lives in this tab's sessionStorage only (see docs/console.md for why):
// no cookie carries it, so no other site can make the browser act with it (no CSRF), and it is
// gone when the tab closes.

const KEY_STORAGE = 'promptline.key';
const PROJECT_STORAGE = 'promptline.project';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

/** The project an instance admin chose to look at; null for the key's own. */
export function storedProject(): string | null {
  return sessionStorage.getItem(PROJECT_STORAGE);
}

export function storeProject(project: string | null): void {
  if (project === null) sessionStorage.removeItem(PROJECT_STORAGE);
  else sessionStorage.setItem(PROJECT_STORAGE, project);
}

/** Called when the server says the key is no longer valid (revoked, expired). */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

/** `/v1/x` with the non-empty query values, in a stable order. */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

/** One path segment: a prompt name or an id may hold any character. */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Another media type than JSON (reports as Markdown or HTML). */
  accept?: string;
  /** Sign-in checks a key before it is stored. */
  key?: string;
}

function headersFor(opts: RequestOptions): Headers {
  const headers = new Headers();
  const key = opts.key ?? storedKey();
  if (key) headers.set('authorization', `Bearer ${key}`);
  const project = storedProject();
  if (project) headers.set('x-promptline-project', project);
  if (opts.body !== undefined) headers.set('content-type', 'application/json');
  headers.set('accept', opts.accept ?? 'application/json');
  return headers;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const res = await fetch(withQuery(path, opts.query), {
    method: opts.method ?? 'GET',
    headers: headersFor(opts),
    body: opts.body === undefined ? null : JSON.stringify(opts.body),
    signal: opts.signal ?? null,
    credentials: 'omit',
    cache: 'no-store',
  });
  if (res.ok) return res;
  let code = 'error';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) message = body.error.message;
    if (body.error?.code) code = body.error.code;
  } catch {
    // Not JSON: the status line says it.
  }
  if (res.status === 401 && opts.key === undefined) onUnauthorized();
  throw new ApiError(res.status, code, message);
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Fetches with the key and saves the answer as a file (a plain link could not carry the key). */
export async function download(path: string, query: Query, filename: string, accept: string): Promise<void> {
  const res = await send(path, { query, accept });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
