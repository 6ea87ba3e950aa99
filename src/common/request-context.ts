import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

// The request being served, for what is logged while serving it: every log line of a request
// carries its id (logger.ts), and so does its error answer. A client's own X-Request-Id is kept
// when it is a plain token (a proxy's id then links both logs); anything else gets a fresh one.

const requests = new AsyncLocalStorage<string>();

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id for a request: the client's X-Request-Id when it is a plain token of up to 128 characters, else a new UUID. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && CLIENT_ID.test(header) ? header : randomUUID();
}

/** Runs `fn` as part of the request `id`: what it logs, directly or in callbacks it starts, carries the id. */
export function inRequest<T>(id: string, fn: () => T): T {
  return requests.run(id, fn);
}

/** The id of the request being served here, if any. */
export function currentRequestId(): string | undefined {
  return requests.getStore();
}
