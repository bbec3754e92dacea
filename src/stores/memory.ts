/**
 * The memory store: sealed records in a bounded map inside this process. Available from
 * `pithos/memory`.
 *
 * For development, tests and single-process apps: records vanish when the process exits and are
 * not shared between processes. Least recently used records go first when `maxEntries` is
 * reached, records without a user key before those with one (up to half of `maxEntries`);
 * expired records are never returned and are removed as they are met or by `prune()`.
 * It holds no timers, so it never keeps a process alive.
 *
 * @module
 */
import { equalBytes } from '../core/bytes.ts';
import { ConfigError, StoreError } from '../core/errors.ts';
import type { Store, StoreSetOptions, StoreStats } from '../core/store.ts';
import { isStoreKey, isUserKey } from '../core/token.ts';

/** Options of `memoryStore`. */
export interface MemoryStoreOptions {
  /**
   * Most records kept; beyond it the least recently used record without a user key goes first,
   * and records with one (device records of `pithos/auth`) only when no other is left or they
   * fill more than half of it. Default 10 000.
   */
  maxEntries?: number;
  /** Milliseconds since the epoch, for expiry; inject the manager's clock in tests. Default `Date.now`. */
  clock?: () => number;
}

interface Entry {
  record: Uint8Array;
  expiresAt: number;
  userKey: string | undefined;
}

/** A memory store, with compare-and-set, a per-user index and `prune`. */
export interface MemoryStore extends Required<Omit<Store, 'close'>> {
  /** How many records it holds now (expired ones included until they are met or pruned). */
  readonly size: number;
  /** Drops every record. */
  close(): Promise<void>;
  /** Counts the records, the expired ones not yet removed, and their bytes. */
  stats(): Promise<Required<StoreStats>>;
}

function checkKey(key: string): void {
  if (!isStoreKey(key)) {
    throw new StoreError('memory', 'refused a key that is not a store key', {
      code: 'STORE_KEY_INVALID',
    });
  }
}

/** Refuses a user key that is not a hex or base64url hash, as every store with a user index does. */
function checkUserKey(userKey: string | undefined): void {
  if (userKey !== undefined && !isUserKey(userKey)) {
    throw new StoreError('memory', 'refused a user key that is not 16–128 of [A-Za-z0-9_-]', {
      code: 'STORE_KEY_INVALID',
    });
  }
}

/**
 * Creates a memory store.
 *
 * @example
 * ```ts
 * const manager = createSessionManager({ store: memoryStore({ maxEntries: 50_000 }), secret });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new ConfigError('memoryStore: maxEntries must be a positive whole number');
  }
  const clock = options.clock ?? Date.now;
  // Records without a user key (sessions) and records with one (the device records of
  // `pithos/auth`) live in two maps, each in least-recently-used order. Beyond `maxEntries` the
  // first map is evicted first, as long as the second holds at most half of `maxEntries`:
  // anonymous traffic never pushes out the per-user index that "sign out everywhere" relies on,
  // and device records (which outlive idle sessions) can never crowd out the sessions.
  const entries = new Map<string, Entry>();
  const indexed = new Map<string, Entry>();
  const users = new Map<string, Set<string>>();
  const mapOf = (entry: Entry): Map<string, Entry> =>
    entry.userKey === undefined ? entries : indexed;
  const find = (key: string): Entry | undefined => entries.get(key) ?? indexed.get(key);

  function remove(key: string): void {
    const entry = find(key);
    if (entry === undefined) return;
    mapOf(entry).delete(key);
    if (entry.userKey === undefined) return;
    const keys = users.get(entry.userKey);
    keys?.delete(key);
    if (keys?.size === 0) users.delete(entry.userKey);
  }

  /**
   * The unexpired entry of a key. The key is checked only when it is not in the map: every key in
   * it was checked when it was written, so a well-formed key pays no check on the common path.
   */
  function live(key: string): Entry | undefined {
    const entry = find(key);
    if (entry === undefined) {
      checkKey(key);
      return undefined;
    }
    if (clock() >= entry.expiresAt) {
      remove(key);
      return undefined;
    }
    return entry;
  }

  function put(key: string, record: Uint8Array, setOptions: StoreSetOptions): void {
    const entry = find(key);
    if (entry !== undefined && entry.userKey === setOptions.userKey) {
      // The common rewrite of a session: the same entry, moved to the most recently used end.
      entry.record = record;
      entry.expiresAt = setOptions.expiresAt;
      touch(key, entry);
      return;
    }
    remove(key);
    const added: Entry = { record, expiresAt: setOptions.expiresAt, userKey: setOptions.userKey };
    mapOf(added).set(key, added);
    if (setOptions.userKey !== undefined) {
      const keys = users.get(setOptions.userKey) ?? new Set<string>();
      users.set(setOptions.userKey, keys.add(key));
    }
    while (entries.size + indexed.size > maxEntries) {
      const fromIndexed = entries.size === 0 || indexed.size > maxEntries / 2;
      const [first, other] = fromIndexed ? [indexed, entries] : [entries, indexed];
      const oldest = first.keys().next().value as string;
      // Never the record just written (with a tiny maxEntries it can be its map's only one).
      remove(oldest === key && other.size > 0 ? (other.keys().next().value as string) : oldest);
    }
  }

  /** Moves an entry to the most recently used end of its map (Map order is the LRU order). */
  function touch(key: string, entry: Entry): void {
    const map = mapOf(entry);
    map.delete(key);
    map.set(key, entry);
  }

  return {
    name: 'memory',
    get size() {
      return entries.size + indexed.size;
    },
    async get(key) {
      const entry = live(key);
      if (entry === undefined) return undefined;
      touch(key, entry);
      return entry.record;
    },
    async set(key, record, setOptions) {
      checkKey(key);
      checkUserKey(setOptions.userKey);
      put(key, record, setOptions);
    },
    async delete(key) {
      checkKey(key);
      remove(key);
    },
    async compareAndSet(key, expected, record, setOptions) {
      checkUserKey(setOptions.userKey);
      const current = live(key)?.record;
      const matches =
        current === undefined
          ? expected === undefined
          : expected !== undefined && equalBytes(current, expected);
      if (matches) put(key, record, setOptions);
      return matches;
    },
    async listByUser(userKey) {
      checkUserKey(userKey);
      return [...(users.get(userKey) ?? [])].filter((key) => live(key) !== undefined);
    },
    async deleteByUser(userKey) {
      const keys = await this.listByUser(userKey);
      for (const key of keys) remove(key);
      return keys.length;
    },
    async prune() {
      const now = clock();
      let removed = 0;
      for (const map of [entries, indexed]) {
        for (const [key, entry] of map) {
          if (now >= entry.expiresAt) {
            remove(key);
            removed++;
          }
        }
      }
      return removed;
    },
    async stats() {
      const now = clock();
      const stats = { records: entries.size + indexed.size, expired: 0, bytes: 0 };
      for (const map of [entries, indexed]) {
        for (const entry of map.values()) {
          if (now >= entry.expiresAt) stats.expired++;
          stats.bytes += entry.record.length;
        }
      }
      return stats;
    },
    async close() {
      entries.clear();
      indexed.clear();
      users.clear();
    },
  };
}
