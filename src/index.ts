/**
 * pithos: secure server-side web sessions. This is the core, available from `pithos`.
 *
 * @example
 * ```ts
 * import { createSessionManager } from 'pithos';
 * import { memoryStore } from 'pithos/memory';
 *
 * const manager = createSessionManager<{ visits: number }>({ store: memoryStore(), secret });
 * const session = await manager.load(request.headers.get('cookie'));
 * session.set('visits', (session.get('visits') ?? 0) + 1);
 * const setCookie = await manager.commit(session);
 * ```
 *
 * @module
 */
export type { CookieOptions } from './cookie/options.ts';
export { type CookieLookup, readCookie } from './cookie/parse.ts';
export { type CryptoChoice, hasNativeCrypto } from './core/crypto.ts';
export {
  ConfigError,
  DataError,
  PithosError,
  type PithosErrorCode,
  StoreError,
} from './core/errors.ts';
export type {
  Logger,
  LogLevel,
  RejectReason,
  SessionEvents,
  SessionListener,
} from './core/events.ts';
export {
  clientAddress,
  compileTrustProxy,
  normalizeIP,
  sameNetwork,
  type TrustProxy,
} from './core/ip.ts';
export type { JSONPrimitive, JSONShape, JSONValue } from './core/json.ts';
export type { Secret } from './core/keyring.ts';
export { createSessionManager, type LoadOptions, type SessionManager } from './core/manager.ts';
export type { IPBindingOptions, SessionManagerOptions } from './core/options.ts';
export { Session } from './core/session.ts';
export type { Store, StoreSetOptions, StoreStats } from './core/store.ts';
