/**
 * The session manager: ties sessions to a store and to the request/response. Available from
 * `pithos`.
 *
 * @module
 */

import { serializeClearCookie } from '../cookie/options.ts';
import { readCookie } from '../cookie/parse.ts';
import { commitSession, foreignSession } from './commit.ts';
import { emitFor, guard, type ManagerContext, registerContext, storeFailure } from './context.ts';
import { cryptoProvider } from './crypto.ts';
import { ConfigError, PithosError } from './errors.ts';
import { Emitter, type RejectReason, type SessionEvents, type SessionListener } from './events.ts';
import { normalizeIP, sameNetwork } from './ip.ts';
import type { JSONOnly, JSONValue } from './json.ts';
import { createKeyring } from './keyring.ts';
import { destroyState, regenerateState } from './lifecycle.ts';
import { resolveOptions, type SessionManagerOptions } from './options.ts';
import { expiresAt, openRecord, RECORD_OVERHEAD } from './record.ts';
import { newState, Session, type SessionOrigin, type SessionState, stateOf } from './session.ts';
import type { Store } from './store.ts';
import { parseToken, type Token } from './token.ts';
import { removeSession } from './user.ts';

/** Options of `manager.load`. */
export interface LoadOptions {
  /** The client address (from the socket, or from trusted proxies). Required when `bindIP` is on. */
  ip?: string | undefined;
  /** The request's `User-Agent` header, shown coarsely in `pithos/auth`'s device list. */
  userAgent?: string | undefined;
}

/** Ties sessions of one data type to a store and to the request/response. */
export interface SessionManager<Data extends object> {
  /** The name of the session cookie. */
  readonly cookieName: string;
  /** Which crypto implementation is in use: `native` (libsodium) or `portable` (@noble). */
  readonly cryptoName: 'native' | 'portable';
  /** The store the manager writes to. */
  readonly store: Store;
  /**
   * The session for a `Cookie` header. Missing, malformed, tampered, unknown, foreign or expired
   * tokens give a new empty session (and an event); only a store failure throws (`StoreError`).
   */
  load(cookieHeader: string | null | undefined, options?: LoadOptions): Promise<Session<Data>>;
  /**
   * Writes the session if it changed (or its expiry needs a refresh) and returns the `Set-Cookie`
   * value to send, or `undefined` when no cookie needs sending. Call it before the response's
   * headers leave.
   */
  commit(session: Session<Data>): Promise<string | undefined>;
  /**
   * Gives the session a new ID and key now, deleting the old record; the data is kept, with the
   * changes other requests committed meanwhile. A session that another request destroyed
   * meanwhile becomes a new empty one instead: a destroyed session never comes back.
   */
  regenerate(session: Session<Data>): Promise<void>;
  /** Deletes the session's record now; the next commit clears the cookie, and nothing brings it back. */
  destroy(session: Session<Data>): Promise<void>;
  /** Removes expired records; throws `PithosError` (`NOT_SUPPORTED`) when the store cannot prune. */
  prune(): Promise<number>;
  /** Closes the store, when it has anything to close. */
  close(): Promise<void>;
  /** Listens for an event; returns a function that stops listening. */
  on<K extends keyof SessionEvents>(type: K, listener: SessionListener<K>): () => void;
  /** The `Set-Cookie` value that removes the session cookie. */
  clearCookie(): string;
}

/**
 * Creates a session manager.
 *
 * @example
 * ```ts
 * const manager = createSessionManager<{ visits: number }>({
 *   store: memoryStore(),
 *   secret: process.env.PITHOS_SECRET,
 * });
 * ```
 */
export function createSessionManager<Data extends object = Record<string, JSONValue>>(
  options: SessionManagerOptions & JSONOnly<Data>,
): SessionManager<Data> {
  const resolved = resolveOptions(options);
  const crypto = cryptoProvider(options.crypto ?? undefined);
  const context: ManagerContext = {
    crypto,
    keyring: createKeyring(crypto, options),
    store: options.store,
    options: resolved,
    events: new Emitter(options.logger ?? undefined),
    clearCookie: serializeClearCookie(resolved.cookie),
  };
  const maxRecordBytes = resolved.maxDataBytes + RECORD_OVERHEAD;

  function reject(
    reason: RejectReason,
    token: Token | undefined,
    origin: SessionOrigin,
  ): Session<Data> {
    emitFor(context, 'rejected', token, { reason });
    return new Session(newState(origin));
  }

  async function load(
    cookieHeader: string | null | undefined,
    loadOptions: LoadOptions = {},
  ): Promise<Session<Data>> {
    const ip =
      loadOptions.ip === undefined ? undefined : (normalizeIP(loadOptions.ip) ?? loadOptions.ip);
    if (resolved.binding !== undefined && ip === undefined) {
      throw new ConfigError('bindIP is on: pass the client address to load(cookie, { ip })');
    }
    const origin: SessionOrigin = { context, ip, userAgent: loadOptions.userAgent };
    const cookie = readCookie(cookieHeader, resolved.cookie.name);
    if (cookie.status === 'absent') return new Session(newState(origin));
    if (cookie.status === 'duplicate') return reject('duplicate-cookie', undefined, origin);
    const token = parseToken(crypto, cookie.value);
    if (token === undefined) return reject('malformed', undefined, origin);
    let record: Uint8Array | undefined;
    try {
      record = await context.store.get(token.storeKey);
    } catch (error) {
      throw storeFailure(context, 'get', error);
    }
    if (record === undefined) return reject('unknown', token, origin);
    if (!(record instanceof Uint8Array)) return reject('corrupt', token, origin);
    if (record.length > maxRecordBytes) return reject('oversized', token, origin);
    const opened = openRecord(crypto, context.keyring, token, record);
    if (typeof opened === 'string') return reject(opened, token, origin);
    if (resolved.clock() >= expiresAt(opened.meta)) {
      await removeSession(context, token.storeKey, opened.meta.u !== undefined);
      emitFor(context, 'expired', token, {});
      return new Session(newState(origin));
    }
    const bound = opened.meta.ip;
    if (
      resolved.binding !== undefined &&
      bound !== undefined &&
      !sameNetwork(bound, ip as string, resolved.binding)
    ) {
      return reject('ip-mismatch', token, origin);
    }
    emitFor(context, 'loaded', token, {});
    return new Session(newState(origin, opened, token, record));
  }

  /** The state of a session this manager loaded (`commitSession` checks the same). */
  function own(session: Session<Data>): SessionState {
    const state = stateOf(session);
    if (state.context !== context) throw foreignSession();
    return state;
  }

  const manager: SessionManager<Data> = {
    cookieName: resolved.cookie.name,
    cryptoName: crypto.name,
    store: options.store,
    load,
    commit: (session) => commitSession(context, stateOf(session)),
    regenerate: async (session) => {
      await regenerateState(own(session));
    },
    destroy: async (session) => destroyState(own(session)),
    async prune() {
      const store = context.store;
      const prune = store.prune?.bind(store);
      if (!prune) throw new PithosError('NOT_SUPPORTED', `the ${store.name} store cannot prune`);
      return guard(context, 'prune', () => prune());
    },
    async close() {
      const store = context.store;
      const close = store.close?.bind(store);
      if (close !== undefined) await guard(context, 'close', () => close());
    },
    on: (type, listener) => context.events.on(type, listener),
    clearCookie: () => context.clearCookie,
  };
  registerContext(manager, context);
  return manager;
}
