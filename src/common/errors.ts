// Errors that cross a boundary are typed: each carries the HTTP status it maps to and whether
// it is operational (expected, the client's message is safe to show) or a defect.

export class PromptlineError extends Error {
  readonly status: number;
  readonly operational: boolean;
  readonly code: string;
  constructor(message: string, opts: { status: number; code: string; operational?: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = opts.status;
    this.code = opts.code;
    this.operational = opts.operational ?? true;
  }
}

export class BadRequestError extends PromptlineError {
  constructor(message: string, cause?: unknown) {
    super(message, { status: 400, code: 'bad_request', cause });
  }
}

export class NotFoundError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 404, code: 'not_found' });
  }
}

export class ConflictError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 409, code: 'conflict' });
  }
}

export class MethodNotAllowedError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 405, code: 'method_not_allowed' });
  }
}

export class PayloadTooLargeError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 413, code: 'payload_too_large' });
  }
}

/** The request is well formed but asks for more work or output than the server does for one request. */
export class UnprocessableError extends PromptlineError {
  constructor(message: string, code = 'unprocessable') {
    super(message, { status: 422, code });
  }
}

export class UnsupportedMediaTypeError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 415, code: 'unsupported_media_type' });
  }
}

/** The service is alive but cannot take more now; the client should retry after `retryAfterSeconds`. */
export class UnavailableError extends PromptlineError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, status: 429 | 503 = 503) {
    super(message, { status, code: status === 429 ? 'rate_limited' : 'unavailable' });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A store failed. `retryable` says whether the same call may succeed later (outage, timeout). */
export class StoreError extends PromptlineError {
  readonly retryable: boolean;
  readonly store: string;
  constructor(store: string, message: string, retryable: boolean, cause?: unknown) {
    super(`${store}: ${message}`, { status: 503, code: 'store_unavailable', operational: false, cause });
    this.store = store;
    this.retryable = retryable;
  }
}

/** A store that takes writes again once it has caught up (ClickHouse merging parts): retried, with a longer wait between attempts. */
export class StoreBackPressureError extends StoreError {
  constructor(store: string, message: string, cause?: unknown) {
    super(store, message, true, cause);
  }
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
