// A small HTTP client for the CLI. Every command but offline verification (audit verify --file |
// --data-dir) is a call to a running `promptline serve`. Failures become a CliError carrying one
// line for stderr and the exit code: 1 when the server refused or could not be reached, 2 for usage
// errors (see UsageError).

export const DEFAULT_URL = 'http://127.0.0.1:4318';
const TIMEOUT_MS = 30_000;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Wrong or missing arguments: exit 2, and the command's usage is printed after the message. */
export class UsageError extends CliError {
  readonly usage: string | undefined;
  constructor(message: string, usage?: string) {
    super(message, 2);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

/** The server URL from --url, else PROMPTLINE_URL, else the default; checked to be http(s). */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = (flag ?? env.PROMPTLINE_URL ?? '').trim() || DEFAULT_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`"${raw}" is not a URL: give the server as http://HOST:PORT (--url or PROMPTLINE_URL)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`"${raw}" is not an http(s) URL`);
  return raw.replace(/\/+$/, '');
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;

  constructor(baseUrl: string, apiKey?: string) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey || undefined;
  }

  /** What to do about a 401: the key comes from PROMPTLINE_API_KEY. */
  private keyHint(status: number): string {
    if (status !== 401) return '';
    return this.apiKey ? '; the key in PROMPTLINE_API_KEY was not accepted (revoked, or for another server?)' : '; no API key was sent: set PROMPTLINE_API_KEY (promptline keys create makes one)';
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  /** A GET whose answer is text (a Markdown or HTML report); errors as for JSON calls. */
  async getText(path: string, query?: Record<string, string | number | undefined>): Promise<{ text: string; headers: Headers }> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}${params.size > 0 ? `?${params}` : ''}`, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new CliError(unreachable(this.baseUrl, err));
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let message = `GET ${path} answered HTTP ${res.status}`;
      try {
        const e = (JSON.parse(text) as { error?: { message?: string; code?: string } }).error;
        if (e?.message) message = `${e.message} (${e.code ? `${e.code}, ` : ''}HTTP ${res.status})`;
      } catch {
        // not JSON
      }
      throw new CliError(message + this.keyHint(res.status));
    }
    return { text, headers: res.headers };
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.size > 0 ? `?${params}` : '';
    const url = `${this.baseUrl}${path}${qs}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new CliError(unreachable(this.baseUrl, err));
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (e && typeof e.message === 'string') {
        throw new CliError(`${e.message} (${typeof e.code === 'string' ? `${e.code}, ` : ''}HTTP ${res.status})${this.keyHint(res.status)}`);
      }
      throw new CliError(`${method} ${path} answered HTTP ${res.status}${text ? `: ${oneLine(text)}` : ''}${this.keyHint(res.status)}`);
    }
    // 204: done, nothing to say (a deletion).
    if (res.status === 204) return undefined as T;
    if (json === undefined) throw new CliError(`${method} ${path} answered HTTP ${res.status} without JSON: is ${this.baseUrl} a Promptline server?`);
    return json as T;
  }
}

function oneLine(s: string, max = 200): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function unreachable(baseUrl: string, err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `the server at ${baseUrl} did not answer within ${TIMEOUT_MS / 1000} s`;
  const code = e?.cause?.code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host not found'
        : (e?.cause?.message ?? e?.message ?? String(err));
  return `cannot reach the Promptline server at ${baseUrl} (${why}): start it with "promptline serve", or point --url or PROMPTLINE_URL at it`;
}
