/**
 * `prune` of the file store: a streaming walk over the shard directories, one directory open per
 * level and a small batch of files in flight, so memory does not grow with the number of files.
 * Several processes may prune at once: every step tolerates a file already gone, and a record is
 * removed under its lock, as writers take it. Internal to `pithos/fs`.
 *
 * @module
 */
import type { Dir } from 'node:fs';
import { opendir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isStoreKey } from '../core/token.ts';
import { errorCode, isMissing, removeIfPresent } from './fs-io.ts';
import {
  isLive,
  type Layout,
  lockPath,
  type RecordHeader,
  readHeader,
  recordPath,
  userDir,
  userDirName,
} from './fs-layout.ts';
import { breakIfStale, type LockOptions, release, tryLock } from './fs-lock.ts';

/** Files examined and records removed so far, reported after each shard directory. */
export interface PruneProgress {
  /** Files and index markers examined. */
  scanned: number;
  /** Expired records removed. */
  removed: number;
}

interface Progress extends PruneProgress {
  report(): void;
}

const SHARD = /^[0-9a-f]{2}$/;
const USER_DIRECTORY = /^[0-9a-f]{64}$/;
const BATCH = 32;

async function openIfPresent(path: string): Promise<Dir | undefined> {
  try {
    return await opendir(path);
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** The subdirectories of `path` whose names match `pattern`, one at a time. */
async function* children(path: string, pattern: RegExp): AsyncGenerator<string> {
  const directory = await openIfPresent(path);
  if (directory === undefined) return;
  for await (const entry of directory) if (pattern.test(entry.name)) yield join(path, entry.name);
}

/** Calls `visit` on each entry name of `path`, a batch at a time; sums what it returns. */
async function eachEntry(path: string, visit: (name: string) => Promise<number>): Promise<number> {
  const directory = await openIfPresent(path);
  if (directory === undefined) return 0;
  let total = 0;
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    for (const count of await Promise.all(batch.map(visit))) total += count;
    batch = [];
  };
  for await (const entry of directory) {
    batch.push(entry.name);
    if (batch.length === BATCH) await flush();
  }
  await flush();
  return total;
}

/** Whether `path` has not changed for `staleMs`, by ctime (against `fileClock`, not `clock`). */
async function isStale(path: string, locks: LockOptions): Promise<boolean> {
  try {
    return locks.fileClock() - (await stat(path)).ctimeMs >= locks.staleMs;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Removes the record of `key` if it has expired (or is not a record file); whether it did.
 *
 * Under the record's lock, which every write and delete takes: read again there, the record is
 * unlinked only if it is still expired, so a write that replaced it is never undone, and a
 * compare-and-set that read it sees it gone (its inode unlinked), never moved aside. A record
 * whose lock is held is left for the next prune: a writer is at work on it. Only expired records
 * pay for the lock; a live one costs one read of its header, as before.
 */
async function removeIfExpired(
  layout: Layout,
  key: string,
  now: number,
  locks: LockOptions,
): Promise<boolean> {
  const path = recordPath(layout, key);
  const seen = await readHeader(path);
  if (seen === null || isLive(seen, now)) return false;
  const held = await tryLock(lockPath(layout, key), locks);
  if (held === undefined) return false;
  try {
    const header = await readHeader(path);
    if (header === null || isLive(header, now)) return false;
    if (!(await removeIfPresent(path))) return false;
    // `isLive` narrows as if every header were live: an expired one is a header still.
    const userKey = (header as RecordHeader | undefined)?.userKey;
    if (userKey !== undefined) await removeIfPresent(join(userDir(layout, userKey), key));
    return true;
  } finally {
    await release(held);
  }
}

/** Removes what a crash can leave behind: temporary, claimed or broken-aside files, stale locks. */
async function removeLeftover(path: string, name: string, locks: LockOptions): Promise<void> {
  if (name.endsWith('.lock') && isStoreKey(name.slice(0, -5))) {
    await breakIfStale(path, locks);
  } else if (/^\..*\.(tmp|pruned)$/.test(name) || name.endsWith('.broken')) {
    if (await isStale(path, locks)) await removeIfPresent(path);
  }
}

async function pruneRecords(layout: Layout, locks: LockOptions, progress: Progress): Promise<void> {
  const now = locks.clock();
  for await (const upper of children(layout.records, SHARD)) {
    for await (const shard of children(upper, SHARD)) {
      progress.removed += await eachEntry(shard, async (name) => {
        progress.scanned++;
        if (isStoreKey(name)) return (await removeIfExpired(layout, name, now, locks)) ? 1 : 0;
        await removeLeftover(join(shard, name), name, locks);
        return 0;
      });
      progress.report();
    }
  }
}

/** Whether the marker `key` in the index directory named `directory` points to a live record of that user. */
async function isIndexed(
  layout: Layout,
  key: string,
  directory: string,
  now: number,
): Promise<boolean> {
  const header = await readHeader(recordPath(layout, key));
  return (
    isLive(header, now) && header.userKey !== undefined && userDirName(header.userKey) === directory
  );
}

/**
 * Removes index markers whose record is gone or another user's, then empty user directories.
 * Only markers older than `staleMs`: a write adds its marker just before its record.
 */
async function pruneIndex(layout: Layout, locks: LockOptions, progress: Progress): Promise<void> {
  const now = locks.clock();
  for await (const upper of children(layout.users, SHARD)) {
    for await (const shard of children(upper, SHARD)) {
      for await (const user of children(shard, USER_DIRECTORY)) {
        const name = user.slice(-64);
        await eachEntry(user, async (key) => {
          progress.scanned++;
          const marker = join(user, key);
          if (!isStoreKey(key) || !(await isStale(marker, locks))) return 0;
          if (!(await isIndexed(layout, key, name, now))) await removeIfPresent(marker);
          return 0;
        });
        // Fails while markers remain; a writer that loses its directory here makes it again.
        await rmdir(user).catch(() => undefined);
      }
      progress.report();
    }
  }
}

/** Removes expired records and what crashes left behind; returns how many records it removed. */
export async function pruneFiles(
  layout: Layout,
  locks: LockOptions,
  onProgress?: (progress: PruneProgress) => void,
): Promise<number> {
  const progress: Progress = {
    scanned: 0,
    removed: 0,
    report: () => onProgress?.({ scanned: progress.scanned, removed: progress.removed }),
  };
  await pruneRecords(layout, locks, progress);
  await pruneIndex(layout, locks, progress);
  return progress.removed;
}
