/**
 * The file store: one file per sealed record in a local directory. Available from `pithos/fs`.
 *
 * For one machine (several processes may share the directory): records are files named by their
 * store key, sharded two levels deep; writes, compare-and-set and delete hold a per-record lock
 * file, and a write goes into that lock file, flushed and renamed over the record (atomic, and the
 * rename releases the lock); a per-user index of empty marker files
 * lets the manager list and revoke a user's sessions; `prune()` walks the shards in streaming
 * fashion. See `docs/stores/fs.md` for the layout.
 *
 * @module
 */
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, StoreError } from '../core/errors.ts';
import type { Store, StoreSetOptions, StoreStats } from '../core/store.ts';
import { isStoreKey } from '../core/token.ts';
import { checkKey, checkSet, checkUserKey, guarded, positive, sameBytes } from './fs-checks.ts';
import {
  closeFile,
  createEmpty,
  ensureDirectorySync,
  errorCode,
  FILE_MODE,
  isMissing,
  isStillAt,
  openIfPresent,
  randomSuffix,
  readIfPresent,
  readOpen,
  removeIfPresent,
} from './fs-io.ts';
import {
  encodeRecordFile,
  isLive as isLiveAt,
  type Layout,
  layoutOf,
  liveRecord,
  lockPath,
  type RecordHeader,
  readHeader,
  recordPath,
  userDir,
} from './fs-layout.ts';
import { commit, type HeldLock, keyedQueue, type LockOptions, lock, release } from './fs-lock.ts';
import { type PruneProgress, pruneFiles } from './fs-prune.ts';
import { fileStats } from './fs-stats.ts';

export type { PruneProgress } from './fs-prune.ts';

/** Options of `fileStore`. */
export interface FileStoreOptions {
  /**
   * The directory to keep records in; created (mode 0700) when missing. Give each application
   * its own. Checked for writing when the store is created. Required.
   * Example: `directory: '/var/lib/myapp/sessions'`.
   */
  directory: string;
  /**
   * Milliseconds since the epoch, for records' expiry; inject the manager's clock in tests. The
   * age of locks and leftover files is always measured with the real time, against the file
   * system's timestamps, so a test clock never breaks a lock still held. Default `Date.now`.
   * Example: `clock: () => fakeNow`.
   */
  clock?: () => number;
  /**
   * Flush each record file and its directory to disk before a write returns, so a record written
   * survives a power loss. `false` is faster; a crash can then lose recent writes (never tear one).
   * Default `true`. Example: `sync: false` for a development machine.
   */
  sync?: boolean;
  /**
   * Age in milliseconds after which a record lock counts as abandoned by a dead process and may be
   * broken; also the age after which `prune` removes leftover temporary files. Keep it well above
   * the slowest write of your disk. Default `10000`. Example: `staleLockMs: 30_000`.
   */
  staleLockMs?: number;
  /**
   * Milliseconds a write waits for a record lock another process holds before failing with a
   * `StoreError`. Default `5000`. Example: `lockTimeoutMs: 2000`.
   */
  lockTimeoutMs?: number;
}

/** Options of the file store's `prune`. */
export interface FilePruneOptions {
  /**
   * Called after each shard directory with the files examined and records removed so far.
   * Example: `onProgress: ({ scanned, removed }) => log.info({ scanned, removed })`.
   */
  onProgress?: (progress: PruneProgress) => void;
}
/** A file store: compare-and-set, a per-user index and a streaming `prune`. */
export interface FileStore extends Required<Omit<Store, 'close' | 'prune'>> {
  /** The absolute path of the store's directory. */
  readonly directory: string;
  /** Removes expired records and what crashes left behind; returns how many records it removed. */
  prune(options?: FilePruneOptions): Promise<number>;
  /**
   * Counts the record files, the expired ones and their sizes (header included), walking every
   * shard (`pithos stats`): for operators, not for request paths.
   */
  stats(): Promise<Required<StoreStats>>;
}

/**
 * Creates the store's directories and proves that this process can write in each of them (a file
 * left where a directory belongs, or a subdirectory without write permission, fails here, not at
 * the first request).
 */
function prepare(layout: Layout): void {
  try {
    for (const path of [layout.records, layout.users]) {
      ensureDirectorySync(path);
      const probe = join(path, `.probe-${randomSuffix()}`);
      closeSync(openSync(probe, 'wx', FILE_MODE));
      unlinkSync(probe);
    }
  } catch (error) {
    throw new StoreError(
      'fs',
      `cannot write to the directory ${JSON.stringify(layout.root)} (${errorCode(error) ?? String(error)}): ` +
        'give fileStore a directory this process can create and write to',
      { cause: error },
    );
  }
}

/**
 * Creates a file store. Throws a `StoreError` at once when the directory cannot be created or
 * written.
 *
 * @example
 * ```ts
 * import { fileStore } from 'pithos/fs';
 * const store = fileStore({ directory: '/var/lib/myapp/sessions' });
 * const manager = createSessionManager({ store, secret });
 * // from a timer or a cron job: await store.prune();
 * ```
 */
export function fileStore(options: FileStoreOptions): FileStore {
  if (typeof options?.directory !== 'string' || options.directory === '') {
    throw new ConfigError(
      'fileStore: directory must be the path of a directory to keep records in',
    );
  }
  const layout = layoutOf(resolve(options.directory));
  const clock = options.clock ?? Date.now;
  const sync = options.sync ?? true;
  const locks: LockOptions = {
    clock,
    fileClock: Date.now,
    staleMs: positive('staleLockMs', options.staleLockMs, 10_000),
    timeoutMs: positive('lockTimeoutMs', options.lockTimeoutMs, 5_000),
  };
  prepare(layout);
  const queue = keyedQueue();

  /**
   * Runs `run` holding the record lock of `key` (queued in this process, locked across them).
   * `run` may `write` through the lock; otherwise the lock is released when it returns.
   */
  function exclusive<T>(key: string, run: (held: HeldLock) => Promise<T>): Promise<T> {
    return queue(key, async () => {
      const held = await lock(lockPath(layout, key), locks);
      try {
        return await run(held);
      } finally {
        await release(held);
      }
    });
  }

  /** The header of the record file of `key`: `null` when absent, `undefined` when not a record file. */
  const headerOf = (key: string): Promise<RecordHeader | undefined | null> =>
    readHeader(recordPath(layout, key));
  const isLive = (header: RecordHeader | undefined | null): header is RecordHeader =>
    isLiveAt(header, clock());

  async function readLive(key: string): Promise<Uint8Array | undefined> {
    return liveRecord(await readIfPresent(recordPath(layout, key)), clock());
  }

  /**
   * Compares the record of `key` with `expected` (absent or expired counts as `undefined`) and,
   * when they match, runs `run` holding the lock. The comparison is made before the lock, on a
   * descriptor kept open: a loser returns `false` without touching the lock, and a likely winner
   * checks under the lock that the file it compared is still the record, with no second read. It
   * is when the record's path still names its inode and, if it was live, it is still live: a
   * record file loses its name only to a replacement or a removal or to `prune` (which claims
   * expired records only), and the inode of an open file is never reused. Otherwise the record is
   * read again.
   */
  async function whenMatching(
    key: string,
    expected: Uint8Array | undefined,
    run: (held: HeldLock) => Promise<void>,
  ): Promise<boolean> {
    const matches = (current: Uint8Array | undefined): boolean =>
      current === undefined
        ? expected === undefined
        : expected !== undefined && sameBytes(current, expected);
    const fd = await openIfPresent(recordPath(layout, key));
    let isOpen = fd !== undefined;
    // Closed before a write replaces the record, so that the rename, not this close, frees it.
    const close = (isLinked?: boolean): void => {
      if (isOpen) closeFile(fd as number, isLinked);
      isOpen = false;
    };
    try {
      const bytes = fd === undefined ? undefined : await readOpen(fd);
      const seen = liveRecord(bytes, clock());
      if (!matches(seen)) return false;
      return await exclusive(key, async (held) => {
        // A live record seen may have expired since; an expired one, or not a record, stays so.
        const isCurrent = fd !== undefined && isStillAt(fd, recordPath(layout, key));
        // A file still named is closed at once; another is closed as `closeFile` sees fit.
        close(isCurrent ? true : undefined);
        const isUnchanged =
          isCurrent && (seen === undefined || liveRecord(bytes, clock()) !== undefined);
        if (!isUnchanged && !matches(await readLive(key))) return false;
        await run(held);
        return true;
      });
    } finally {
      close();
    }
  }

  /** Adds `key` to the index of `userKey` (before the record is written, so it is never missed). */
  async function addMarker(userKey: string, key: string): Promise<void> {
    await createEmpty(join(userDir(layout, userKey), key));
  }

  async function removeRecord(key: string, header: RecordHeader | undefined): Promise<boolean> {
    const removed = await removeIfPresent(recordPath(layout, key));
    if (header?.userKey !== undefined) {
      await removeIfPresent(join(userDir(layout, header.userKey), key));
    }
    return removed;
  }

  /** Writes the record of `key` through the lock `held` (which this releases). */
  async function write(
    held: HeldLock,
    key: string,
    record: Uint8Array,
    setOptions: StoreSetOptions,
  ): Promise<void> {
    const { expiresAt, userKey } = setOptions;
    if (userKey !== undefined) await addMarker(userKey, key);
    const bytes = encodeRecordFile(record, expiresAt, userKey);
    await commit(held, recordPath(layout, key), bytes, { sync, staleMs: locks.staleMs });
  }

  async function listByUser(userKey: string): Promise<string[]> {
    checkUserKey(userKey);
    return guarded('listByUser', async () => {
      const keys: string[] = [];
      const directory = await opendir(userDir(layout, userKey)).catch((error: unknown) => {
        if (isMissing(error)) return undefined;
        throw error;
      });
      if (directory === undefined) return keys;
      for await (const { name } of directory) {
        if (!isStoreKey(name)) continue;
        const header = await headerOf(name);
        if (isLive(header) && header.userKey === userKey) keys.push(name);
      }
      return keys;
    });
  }

  return {
    name: 'fs',
    directory: layout.root,
    async get(key) {
      checkKey(key);
      return guarded('get', () => readLive(key));
    },
    async set(key, record, setOptions) {
      checkSet(key, setOptions);
      return guarded('set', () => exclusive(key, (held) => write(held, key, record, setOptions)));
    },
    async delete(key) {
      checkKey(key);
      return guarded('delete', async () => {
        if ((await headerOf(key)) === null) return;
        await exclusive(key, async () => {
          const header = await headerOf(key);
          if (header !== null) await removeRecord(key, header);
        });
      });
    },
    async compareAndSet(key, expected, record, setOptions) {
      checkSet(key, setOptions);
      return guarded('compareAndSet', () =>
        whenMatching(key, expected, (held) => write(held, key, record, setOptions)),
      );
    },
    listByUser,
    async deleteByUser(userKey) {
      const keys = await listByUser(userKey);
      return guarded('deleteByUser', async () => {
        let removed = 0;
        for (const key of keys) {
          const gone = await exclusive(key, async () => {
            const header = await headerOf(key);
            return isLive(header) && header.userKey === userKey
              ? await removeRecord(key, header)
              : false;
          });
          if (gone) removed++;
        }
        return removed;
      });
    },
    async prune(pruneOptions = {}) {
      return guarded('prune', () => pruneFiles(layout, locks, pruneOptions.onProgress));
    },
    async stats() {
      return guarded('stats', () => fileStats(layout, clock()));
    },
  };
}
