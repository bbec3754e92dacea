/**
 * The session: a typed map over JSON data, with the bookkeeping the manager needs to write only
 * what changed. Available from `pithos` (as a type; sessions come from `manager.load`).
 *
 * @module
 */

import type { ManagerContext } from './context.ts';
import { ConfigError, DataError } from './errors.ts';
import { assertJSON } from './json.ts';
import type { OpenedRecord } from './record.ts';
import type { Token } from './token.ts';
import { deviceStoreKey, type UserBinding } from './user.ts';

/** What the manager knows about a session beyond its data. Internal. */
export interface SessionState {
  data: Record<string, unknown>;
  /**
   * JSON of object values at the moment the application first saw them, by key; `null` for
   * values it saw before the last commit, whose JSON is the one that commit wrote (see
   * `snapshotOf`).
   */
  snapshots: Map<string, string | null>;
  /** The payload JSON of this request's last commit, read only when a `null` snapshot is compared. */
  committedText: string | undefined;
  /** Its data, parsed once on first use. */
  committedData: Record<string, unknown> | undefined;
  /** Keys the application set or deleted. */
  changed: Set<string>;
  /** The token, once the session has one (loaded, or issued at its first write). */
  token: Token | undefined;
  /** The record as loaded or last written: the expected value for compare-and-set. */
  record: Uint8Array | undefined;
  opened: OpenedRecord | undefined;
  /**
   * A newer record of this session than `opened`, found by `regenerate`: the next commit applies
   * this request's changes onto it.
   */
  latest: OpenedRecord | undefined;
  /** The client address given to `load`. */
  ip: string | undefined;
  /** Store keys to delete at commit (after `reset`). */
  retired: string[];
  /** The idle timeout set by `setDuration`, seconds. */
  duration: number | undefined;
  flashIn: Record<string, unknown>;
  flashOut: Record<string, unknown>;
  flashRead: Set<string>;
  /** Write at the next commit even if no data changed (regenerate, setDuration). */
  forceWrite: boolean;
  destroyed: boolean;
  /** The record disappeared under a concurrent destroy or regenerate: never write it again. */
  vanished: boolean;
  /** Send a Set-Cookie at the next commit (a token was issued or rotated). */
  issueCookie: boolean;
  /** The manager this session belongs to. */
  context: ManagerContext;
  /** The client's User-Agent header, for the device list of `pithos/auth`. */
  userAgent: string | undefined;
  /** The logged-in user, if any (sealed as `meta.u`). */
  user: UserBinding | undefined;
  /** `user` was changed in this request (login, logout, keepLogin, elevate). */
  userChanged: boolean;
}

/** Where a session comes from: its manager and the request's client. */
export interface SessionOrigin {
  readonly context: ManagerContext;
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the manager reads the state of sessions of any data type
type AnySession = Session<any>;

let stateOfSession: (session: AnySession) => SessionState;

/** The manager's view of a session. Not part of the public API. */
export function stateOf(session: AnySession): SessionState {
  return stateOfSession(session);
}

/** A new state, for a fresh session or one opened from a record. */
export function newState(
  origin: SessionOrigin,
  opened?: OpenedRecord,
  token?: Token,
  record?: Uint8Array,
): SessionState {
  return {
    data: opened?.data ?? {},
    snapshots: new Map(),
    committedText: undefined,
    committedData: undefined,
    changed: new Set(),
    token,
    record,
    opened,
    latest: undefined,
    ip: origin.ip,
    retired: [],
    duration: undefined,
    flashIn: opened?.meta.f ?? {},
    flashOut: {},
    flashRead: new Set(),
    forceWrite: false,
    destroyed: false,
    vanished: false,
    issueCookie: false,
    context: origin.context,
    userAgent: origin.userAgent,
    user: opened?.meta.u as UserBinding | undefined,
    userChanged: false,
  };
}

type Key<Data> = keyof Data & string;

/**
 * The JSON a value had when the application first saw it. For values it saw before an earlier
 * commit of this request, that is the JSON the commit wrote: read from its payload on demand, since
 * a second commit in one request is rare and the first one should not pay for it.
 */
export function snapshotOf(
  state: SessionState,
  key: string,
  snapshot: string | null,
): string | undefined {
  if (snapshot !== null) return snapshot;
  state.committedData ??= (
    JSON.parse(state.committedText as string) as { d: Record<string, unknown> }
  ).d;
  const data = state.committedData;
  const committed = Object.hasOwn(data, key) ? JSON.stringify(data[key]) : undefined;
  if (committed !== undefined) state.snapshots.set(key, committed);
  return committed;
}

/** Refuses `__proto__`, which an assignment would turn into the data object's prototype. */
function assertKey(key: string): void {
  if (key === '__proto__') {
    throw new DataError('DATA_NOT_JSON', 'a session key cannot be "__proto__"', key);
  }
}

/**
 * One client's session: a map from the keys of `Data` to JSON values.
 *
 * @example
 * ```ts
 * const session = await manager.load(request.headers.get('cookie'));
 * session.set('visits', (session.get('visits') ?? 0) + 1);
 * const setCookie = await manager.commit(session);
 * ```
 */
export class Session<Data extends object> {
  #state: SessionState;

  static {
    stateOfSession = (session) => session.#state;
  }

  /** @internal Sessions come from `manager.load`. */
  constructor(state: SessionState) {
    this.#state = state;
  }

  /** The value of `key`, or `undefined`. Changes made inside it are saved at commit. */
  get<K extends Key<Data>>(key: K): Data[K] | undefined {
    const state = this.#state;
    // Own keys only: `get('constructor')` must not reach Object.prototype.
    const value = Object.hasOwn(state.data, key) ? state.data[key] : undefined;
    if (
      typeof value === 'object' &&
      value !== null &&
      !state.snapshots.has(key) &&
      !state.changed.has(key)
    ) {
      state.snapshots.set(key, JSON.stringify(value));
    }
    return value as Data[K] | undefined;
  }

  /**
   * Sets `key` to a JSON value. Throws `DataError` (`DATA_NOT_JSON`) for values JSON cannot carry,
   * leaving the session as it was. `Date` values are stored as ISO-8601 strings.
   */
  set<K extends Key<Data>>(key: K, value: Data[K]): void {
    assertKey(key);
    assertJSON(value, key);
    const state = this.#state;
    state.data[key] = value;
    state.changed.add(key);
    state.snapshots.delete(key);
  }

  /** Whether `key` has a value. */
  has(key: Key<Data>): boolean {
    return Object.hasOwn(this.#state.data, key);
  }

  /** Removes `key`; returns whether it had a value. */
  delete(key: Key<Data>): boolean {
    const state = this.#state;
    if (!Object.hasOwn(state.data, key)) return false;
    delete state.data[key];
    state.changed.add(key);
    state.snapshots.delete(key);
    return true;
  }

  /** Removes every key (the session itself, its ID and expiry stay: see `reset`). */
  clear(): void {
    for (const key of Object.keys(this.#state.data)) this.delete(key as Key<Data>);
  }

  /** The keys that have values. */
  keys(): Key<Data>[] {
    return Object.keys(this.#state.data) as Key<Data>[];
  }

  /** `[key, value]` pairs; changes made inside the values are saved at commit. */
  entries(): [Key<Data>, Data[Key<Data>]][] {
    return this.keys().map((key) => [key, this.get(key) as Data[Key<Data>]]);
  }

  /** How many keys have values. */
  get size(): number {
    return Object.keys(this.#state.data).length;
  }

  /** Whether this session has no stored record yet (it was not loaded from the store). */
  get isNew(): boolean {
    return this.#state.opened === undefined;
  }

  /** Whether the data changed in this request, including changes inside nested values. */
  get isModified(): boolean {
    const state = this.#state;
    if (state.changed.size > 0 || state.forceWrite) return true;
    for (const [key, snapshot] of state.snapshots) {
      try {
        if (JSON.stringify(state.data[key]) !== snapshotOf(state, key, snapshot)) return true;
      } catch {
        // A value JSON cannot hold any more (a cycle, a BigInt): changed, and refused at commit.
        return true;
      }
    }
    return false;
  }

  /** When the session was created (milliseconds since the epoch), or `undefined` for a new one. */
  get createdAt(): number | undefined {
    return this.#state.opened?.meta.c;
  }

  /**
   * Sets this session's idle timeout in seconds (the original's `set_duration`). It never moves
   * the expiry past the absolute deadline. Saved at the next commit.
   */
  setDuration(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new ConfigError('setDuration() takes a positive number of seconds');
    }
    this.#state.duration = seconds;
    this.#state.forceWrite = true;
  }

  /**
   * Clears the data and forgets the ID and key (the original's `reset`): a later write starts a
   * brand-new session, and the commit deletes the old record.
   */
  reset(): void {
    const state = this.#state;
    if (state.token !== undefined && state.record !== undefined) {
      state.retired.push(state.token.storeKey);
      if (state.user !== undefined && state.context.store.listByUser !== undefined) {
        state.retired.push(deviceStoreKey(state.context, state.token.storeKey));
      }
    }
    // A destroyed (or vanished) session stays so: reset() must not let a later write bring it back.
    Object.assign(state, newState(state), {
      retired: state.retired,
      destroyed: state.destroyed,
      vanished: state.vanished,
    });
  }

  /** Keeps a JSON value for the next request, where `getFlash` reads it once. */
  flash(key: string, value: unknown): void {
    assertKey(key);
    assertJSON(value, `flash.${key}`);
    this.#state.flashOut[key] = value;
  }

  /** A flash value set by an earlier request, removed once read; `undefined` when there is none. */
  getFlash<T = unknown>(key: string): T | undefined {
    const state = this.#state;
    if (!Object.hasOwn(state.flashIn, key) || state.flashRead.has(key)) return undefined;
    state.flashRead.add(key);
    return state.flashIn[key] as T;
  }
}
