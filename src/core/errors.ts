/**
 * Errors thrown by pithos. Available from `pithos` and `pithos/errors`.
 *
 * "No valid session" is never an error: a missing, tampered or expired token gives the
 * application a fresh empty session and emits a `rejected` or `expired` event instead.
 * Errors are for configuration mistakes, data that JSON cannot carry, and store failures.
 * No message ever contains a session ID, key, token or cookie value.
 *
 * @module
 */

/** Every stable error code pithos uses. Switch on `error.code`, not on the message. */
export type PithosErrorCode =
  | 'CONFIG_INVALID'
  | 'SECRET_WEAK'
  | 'COOKIE_INVALID'
  | 'DATA_NOT_JSON'
  | 'DATA_TOO_LARGE'
  | 'STORE_FAILED'
  | 'STORE_CONFLICT'
  | 'STORE_KEY_INVALID'
  | 'NOT_SUPPORTED'
  | 'SESSION_DESTROYED';

/** Options shared by every pithos error. */
export interface PithosErrorOptions {
  /** The underlying error, kept for debugging (for example a driver's connection error). */
  cause?: unknown;
}

/**
 * Base class of every error pithos throws.
 *
 * @example
 * ```ts
 * try { await manager.commit(session); }
 * catch (error) { if (error instanceof PithosError && error.code === 'DATA_NOT_JSON') … }
 * ```
 */
export class PithosError extends Error {
  /** A stable machine-readable code. */
  readonly code: PithosErrorCode;

  constructor(code: PithosErrorCode, message: string, options?: PithosErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PithosError';
    this.code = code;
  }
}

/** A configuration mistake, thrown at construction with a message that says how to fix it. */
export class ConfigError extends PithosError {
  constructor(
    message: string,
    code: 'CONFIG_INVALID' | 'SECRET_WEAK' | 'COOKIE_INVALID' = 'CONFIG_INVALID',
  ) {
    super(code, message);
    this.name = 'ConfigError';
  }
}

/** Session data that cannot be stored faithfully as JSON, or that is larger than `maxDataBytes`. */
export class DataError extends PithosError {
  /** Where in the data the problem is, as a path like `cart[2].price`. */
  readonly path: string;

  constructor(code: 'DATA_NOT_JSON' | 'DATA_TOO_LARGE', message: string, path = '') {
    super(code, message);
    this.name = 'DataError';
    this.path = path;
  }
}

/**
 * A store operation failed (connection refused, timeout, driver error). Never swallowed into an
 * empty session: adapters turn it into a 5xx response by default.
 */
export class StoreError extends PithosError {
  /** The name of the store that failed, such as `memory` or `redis`. */
  readonly store: string;

  constructor(
    store: string,
    message: string,
    options?: PithosErrorOptions & {
      code?: 'STORE_FAILED' | 'STORE_CONFLICT' | 'STORE_KEY_INVALID';
    },
  ) {
    super(options?.code ?? 'STORE_FAILED', `${store} store: ${message}`, options);
    this.name = 'StoreError';
    this.store = store;
  }
}
