import { pino, stdSerializers, type DestinationStream } from 'pino';
import { currentRequestId } from './request-context.ts';

// A logger is injected into every component; nothing imports a global one. Behind the interface
// is pino: one JSON object a line, written synchronously (a line logged just before a crash is on
// disk), with the request id of the request being served in every line logged while serving it.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const REDACTED_KEYS = new Set(['authorization', 'apikey', 'api_key', 'key', 'password', 'token', 'secret']);

/**
 * Fields as logged: secrets named by any casing redacted, errors as name, message and stack. Field
 * names come from our own code, but a value may be a wire-sourced object: it is copied, not walked.
 */
function redact(fields: LogFields | undefined): LogFields {
  const out = Object.create(null) as LogFields;
  if (!fields) return out;
  for (const [k, v] of Object.entries(fields)) {
    if (REDACTED_KEYS.has(k.toLowerCase())) out[k] = '[redacted]';
    else if (v instanceof Error) out[k] = stdSerializers.err(v);
    else out[k] = v;
  }
  return out;
}

/**
 * One JSON object a line on stderr, so stdout stays for what a person reads:
 * `{"level":"info","time":"…","reqId":"…","msg":"…",…fields}`. `write` takes the lines instead (tests).
 */
export function createJsonLogger(level: LogLevel = 'info', write?: (line: string) => void): Logger {
  const destination: DestinationStream = write ? { write } : pino.destination({ fd: 2, sync: true });
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => {
        const reqId = currentRequestId();
        return reqId === undefined ? {} : { reqId };
      },
    },
    destination,
  );
  return {
    debug: (m, f) => log.debug(redact(f), m),
    info: (m, f) => log.info(redact(f), m),
    warn: (m, f) => log.warn(redact(f), m),
    error: (m, f) => log.error(redact(f), m),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
