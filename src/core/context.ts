/**
 * What the manager's operations share: configuration, keys, the store and the event emitter.
 * Internal.
 *
 * @module
 */
import type { CryptoProvider } from './crypto.ts';
import { StoreError } from './errors.ts';
import type { Emitter, SessionEvents } from './events.ts';
import type { Keyring } from './keyring.ts';
import type { ResolvedOptions } from './options.ts';
import type { Store } from './store.ts';
import { sessionHandle, type Token } from './token.ts';

/** The shared state of one manager. */
export interface ManagerContext {
  readonly crypto: CryptoProvider;
  readonly keyring: Keyring;
  readonly store: Store;
  readonly options: ResolvedOptions;
  readonly events: Emitter;
  /** The cookie value that clears the session cookie. */
  readonly clearCookie: string;
}

/**
 * Runs a store operation, turning anything it throws into a `StoreError` that names the store and
 * keeps the cause. Store failures are never hidden as an empty session.
 */
export async function guard<T>(
  context: ManagerContext,
  operation: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw storeFailure(context, operation, error);
  }
}

/** What a failed store operation throws: the error itself if it is a `StoreError`, else one. */
export function storeFailure(
  context: ManagerContext,
  operation: string,
  error: unknown,
): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(context.store.name, `${operation} failed`, { cause: error });
}

/** Emits an event naming the session by its keyed hash, computing the hash only if anyone listens. */
export function emitFor<K extends keyof SessionEvents>(
  context: ManagerContext,
  type: K,
  token: Token | undefined,
  event: Omit<SessionEvents[K], 'session'>,
): void {
  if (!context.events.wants(type)) return;
  const session =
    token === undefined ? undefined : sessionHandle(context.crypto, context.keyring.sealing, token);
  context.events.emit(type, {
    ...event,
    ...(session === undefined ? {} : { session }),
  } as SessionEvents[K]);
}

const contexts = new WeakMap<object, ManagerContext>();

/** Remembers the context behind a manager object, for `pithos/auth`. */
export function registerContext(manager: object, context: ManagerContext): void {
  contexts.set(manager, context);
}

/** The context behind a manager, or `undefined` when it was not made by `createSessionManager`. */
export function findContext(manager: object): ManagerContext | undefined {
  return contexts.get(manager);
}

/** The context behind a manager created by `createSessionManager`. */
export function contextOf(manager: object): ManagerContext {
  const context = contexts.get(manager);
  if (context === undefined) throw new TypeError('not a manager made by createSessionManager()');
  return context;
}
