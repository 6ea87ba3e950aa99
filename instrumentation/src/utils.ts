import { diag } from '@opentelemetry/api';

// Nothing inside the instrumentation may reach the host app: failures are caught here and
// reported through OpenTelemetry's diag logger, which the app controls.

const PREFIX = '@promptline/instrumentation:';

export function reportError(what: string, err: unknown): void {
  try {
    diag.error(`${PREFIX} ${what}`, err instanceof Error ? (err.stack ?? err.message) : String(err));
  } catch {
    // a broken diag logger must not break the app either
  }
}

export function warn(message: string): void {
  try {
    diag.warn(`${PREFIX} ${message}`);
  } catch {
    // as above
  }
}

export function debug(message: string): void {
  try {
    diag.debug(`${PREFIX} ${message}`);
  } catch {
    // as above
  }
}

/** Runs `fn`; on a throw reports it and returns `fallback`. */
export function safely<T>(what: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    reportError(what, err);
    return fallback;
  }
}

export const trimSlash = (url: string) => url.replace(/\/+$/, '');

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4318';
