/**
 * The store contract: persistence of sealed records. Three required methods, and optional
 * capabilities the manager detects. Available from `pithos` (types only).
 *
 * Keys are store keys (64 lower-case hex digits, a one-way hash of the session ID); values are
 * sealed records (opaque bytes). A store never sees a session ID, key or any plaintext data.
 *
 * @module
 */

/**
 * The longest timeout a store accepts, in milliseconds (about 24.8 days): node's timers hold at
 * most 2^31 − 1 ms and fire after 1 ms for anything longer.
 */
export const MAX_TIMEOUT_MS: number = 2 ** 31 - 1;

/** What `set` knows besides the record. */
export interface StoreSetOptions {
  /**
   * When the record stops being valid, in milliseconds since the epoch. Plaintext, for cleanup
   * only (native TTL, `prune`): it never makes a session valid, the sealed deadline does.
   */
  expiresAt: number;
  /** An opaque per-user key (a keyed hash, never a user's plain identifier), for stores that index by user. */
  userKey?: string;
}

/**
 * What a store holds, from its optional `stats` capability (`pithos stats`). Session records and
 * the device records of `pithos/auth` count alike: a store dump cannot tell them apart.
 */
export interface StoreStats {
  /** Records held now, expired ones not yet removed included. */
  records: number;
  /** How many of them are past their expiry; absent where expired records vanish by themselves (native TTL). */
  expired?: number;
  /** Their total size in bytes, as the store keeps them; absent when the store cannot tell. */
  bytes?: number;
}

/** The persistence interface every store implements. */
export interface Store {
  /** A short name for errors and logs, such as `memory` or `redis`. */
  readonly name: string;
  /** The record under `key`, or `undefined` when it is absent or past its expiry. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes the record under `key`, replacing any other. */
  set(key: string, record: Uint8Array, options: StoreSetOptions): Promise<void>;
  /** Deletes the record under `key`; deleting an absent record is a no-op. */
  delete(key: string): Promise<void>;
  /**
   * Optional: writes `record` only if the record under `key` is still `expected` (byte for byte;
   * `undefined` means absent). Returns whether it wrote. Every record has a random nonce, so equal
   * bytes mean the same write.
   */
  compareAndSet?(
    key: string,
    expected: Uint8Array | undefined,
    record: Uint8Array,
    options: StoreSetOptions,
  ): Promise<boolean>;
  /** Optional: the store keys of the live records written with this `userKey`. */
  listByUser?(userKey: string): Promise<string[]>;
  /** Optional: deletes every record written with this `userKey`; returns how many. */
  deleteByUser?(userKey: string): Promise<number>;
  /** Optional: removes expired records; returns how many. */
  prune?(): Promise<number>;
  /**
   * Optional: counts what the store holds (`pithos stats`). It may read the whole store (a scan
   * of keys, files or rows): for operators and occasional monitoring, never for request paths.
   * Counts drift while applications write.
   *
   * @example
   * ```ts
   * const { records, expired, bytes } = (await store.stats?.()) ?? { records: NaN };
   * ```
   */
  stats?(): Promise<StoreStats>;
  /** Optional: releases what the store holds (timers, connections it owns). */
  close?(): Promise<void>;
}
