/**
 * Typed session events. Sessions are named only by a keyed hash (`session`), never by an ID,
 * key, token or cookie value.
 *
 * @module
 */

/** Why a cookie did not give a session. */
export type RejectReason =
  | 'duplicate-cookie'
  | 'malformed'
  | 'unknown'
  | 'oversized'
  | 'version'
  | 'unknown-secret'
  | 'tampered'
  | 'corrupt'
  | 'ip-mismatch';

/** The events a manager emits, by name. `session` is a keyed hash of the session. */
export interface SessionEvents {
  /** A new session was written for the first time. */
  created: { session: string };
  /** A session was loaded from its record. */
  loaded: { session: string };
  /** A cookie was present but gave no session; the application got a new empty one. */
  rejected: { reason: RejectReason; session?: string };
  /** A session got a new ID and key (`regenerate`), or was resealed under the newest secret. */
  rotated: { session: string; cause: 'regenerate' | 'secret' };
  /** A session was destroyed. */
  destroyed: { session: string };
  /** An authentic session had passed its idle or absolute timeout; its record was deleted. */
  expired: { session: string };
}

/** A listener for one event. */
export type SessionListener<K extends keyof SessionEvents> = (event: SessionEvents[K]) => void;

/** Log levels of the `logger` hook. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A logger hook: `(level, message, fields) => void`. Nothing secret is ever passed to it. */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** A minimal typed emitter. Listener errors are logged, never thrown into a request. */
export class Emitter {
  #listeners = new Map<keyof SessionEvents, Set<(event: never) => void>>();
  #logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  /** Whether anything listens for `type`, so callers can skip computing the event. */
  wants(type: keyof SessionEvents): boolean {
    return this.#logger !== undefined || (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  on<K extends keyof SessionEvents>(type: K, listener: SessionListener<K>): () => void {
    const set = this.#listeners.get(type) ?? new Set();
    this.#listeners.set(type, set);
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  emit<K extends keyof SessionEvents>(type: K, event: SessionEvents[K]): void {
    this.#logger?.('debug', `session ${type}`, { ...event });
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as SessionListener<K>)(event);
      } catch (error) {
        this.#logger?.('error', `a "${type}" listener threw`, { error });
      }
    }
  }
}
