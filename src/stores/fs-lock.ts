/**
 * Record locks of the file store, without a lock server: a lock file created with `O_EXCL`
 * (`open(path, 'wx')`), which only one process can create. A lock older than `staleMs` is taken
 * to belong to a process that died holding it, and may be broken. Internal to `pithos/fs`.
 *
 * The lock file doubles as the temporary file of a write: the holder writes the record's next
 * version into it, flushes it and renames it over the record, which replaces the record
 * atomically and releases the lock in one step. A holder that writes nothing removes it.
 *
 * @module
 */
import type * as fs from 'node:fs';
import { fstat, fstatSync, link, rename, stat } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import {
  closeFile,
  createExclusive,
  errorCode,
  flush,
  isMissing,
  randomSuffix,
  removeIfPresent,
  syncDirectory,
  writeFully,
} from './fs-io.ts';

const statPath = promisify(stat);
const statOpen = promisify(fstat);
const renameFile = promisify(rename);
const linkFile = promisify(link);

/** How the locks of one store behave. */
export interface LockOptions {
  /** Milliseconds since the epoch, for records' expiry (the store's `clock` option). */
  clock: () => number;
  /**
   * Milliseconds since the epoch, compared with files' timestamps to age locks and leftovers: the
   * real time (`Date.now`) in a store, whatever its `clock`, since a file's timestamps are the
   * real time it was written. A test clock ahead of it would break locks still held, and one
   * behind would never break a dead holder's.
   */
  fileClock: () => number;
  /** Age after which a lock may be broken. */
  staleMs: number;
  /** How long to wait for a held lock before failing. */
  timeoutMs: number;
}

/** A lock this process holds: the lock file, open for writing. */
export interface HeldLock {
  readonly path: string;
  readonly fd: number;
  /** `performance.now()` when it was taken. */
  readonly since: number;
  /** Whether `commit` or `release` has taken charge of the lock file (and closed `fd`). */
  isDone: boolean;
}

/** Thrown when a lock stays held longer than `timeoutMs`. */
export class LockTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`a record lock stayed held for more than ${timeoutMs} ms`);
    this.name = 'LockTimeout';
  }
}

/** Thrown when a write outlived `staleMs` and another process broke its lock meanwhile. */
export class LockLost extends Error {
  constructor(staleMs: number) {
    super(`a record lock was broken while held, after more than ${staleMs} ms: raise staleLockMs`);
    this.name = 'LockLost';
  }
}

async function tryCreate(path: string): Promise<HeldLock | undefined> {
  try {
    return { path, fd: await createExclusive(path), since: performance.now(), isDone: false };
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined;
    throw error;
  }
}

/** The identity of a file as `stat` sees it, enough to tell two files apart. */
export type FileIdentity = Pick<fs.BigIntStats, 'dev' | 'ino' | 'mtimeNs'>;

/**
 * Whether two `stat`s saw the same file. The inode alone is not enough: when another breaker has
 * just deleted a stale lock, the fresh lock taken next often gets its inode number back. A fresh
 * lock is always younger than a stale one, so the modification time tells them apart (a rename
 * changes a file's ctime, never its mtime).
 */
export function isSameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.mtimeNs === b.mtimeNs;
}

/**
 * Breaks the lock at `path` if it is stale; returns whether the path may now be free.
 *
 * Two processes may find the same stale lock. Unlinking it would let the slower one delete the
 * lock the faster one has just taken, so the lock is renamed aside and checked: when what was
 * moved is not the stale file that was seen (`isSameFile`), it is linked back (`link` never
 * replaces an existing file) and the lock counts as held.
 */
export async function breakIfStale(path: string, options: LockOptions): Promise<boolean> {
  let seen: fs.BigIntStats;
  try {
    seen = await statPath(path, { bigint: true });
  } catch (error) {
    if (isMissing(error)) return true;
    throw error;
  }
  if (options.fileClock() - Number(seen.mtimeMs) < options.staleMs) return false;
  const aside = `${path}.${randomSuffix()}.broken`;
  try {
    await renameFile(path, aside);
  } catch (error) {
    if (isMissing(error)) return true;
    throw error;
  }
  const moved = await statPath(aside, { bigint: true });
  const isSeen = isSameFile(moved, seen);
  if (!isSeen) await linkFile(aside, path).catch(() => undefined);
  await removeIfPresent(aside);
  return isSeen;
}

function pause(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Takes the lock at `path` if it is free or stale; `undefined` when another holder has it. */
export async function tryLock(path: string, options: LockOptions): Promise<HeldLock | undefined> {
  const held = await tryCreate(path);
  if (held !== undefined || !(await breakIfStale(path, options))) return held;
  return await tryCreate(path);
}

/**
 * Takes the lock at `path`, waiting with a growing pause while another process holds it.
 * The wait is measured with the monotonic clock, not `options.clock`.
 */
export async function lock(path: string, options: LockOptions): Promise<HeldLock> {
  const deadline = performance.now() + options.timeoutMs;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const held = await tryLock(path, options);
    if (held !== undefined) return held;
    if (performance.now() >= deadline) throw new LockTimeout(options.timeoutMs);
    await pause(wait * (0.5 + Math.random()));
  }
}

/** Releases a lock without writing (closes and removes the lock file), unless already done. */
export async function release(held: HeldLock): Promise<void> {
  if (held.isDone) return;
  held.isDone = true;
  closeFile(held.fd, true);
  await removeIfPresent(held.path);
}

/**
 * Whether the lock file at `held.path` is still the one `held` created. Only a holder that took
 * longer than `staleMs` can have lost it, so a faster one is not checked (no system call).
 */
async function isStillHeld(held: HeldLock, staleMs: number): Promise<boolean> {
  if (performance.now() - held.since < staleMs / 2) return true;
  const [mine, current] = await Promise.all([
    statOpen(held.fd, { bigint: true }),
    statPath(held.path, { bigint: true }).catch(() => undefined),
  ]);
  return current !== undefined && current.ino === mine.ino && current.dev === mine.dev;
}

/**
 * Pauses between the tries of `renameOwn`, in milliseconds: half a second in all, far more than a
 * breaker's check takes even on a loaded machine; only a lock really broken waits it out.
 */
const RENAME_PAUSES = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * Renames the lock file at `path`, still this holder's (`identity`), over `target`. A breaker that
 * found the lock in use moves it aside for a moment to check it and links it back (see
 * `breakIfStale`): a rename in that moment finds nothing, so it tries again once the file is back.
 * Fails as the rename did when the file stays away, or with `LockLost` when another took its name.
 */
async function renameOwn(
  path: string,
  target: string,
  identity: FileIdentity,
  staleMs: number,
): Promise<void> {
  for (const wait of [...RENAME_PAUSES, undefined]) {
    try {
      await renameFile(path, target);
      return;
    } catch (error) {
      if (!isMissing(error) || wait === undefined) throw error;
    }
    await pause(wait);
    const current = await statPath(path, { bigint: true }).catch(() => undefined);
    if (current !== undefined && !isSameFile(current, identity)) {
      throw new LockLost(staleMs);
    }
  }
}

/**
 * Writes `bytes` into the lock file, flushes it when `sync`, and renames it over `target`: the
 * record is replaced atomically (readers see the old file or the new one, a crash leaves the old
 * one and a lock file that goes stale) and the lock is released by the same rename. On failure
 * the lock is released and the record left as it was.
 */
export async function commit(
  held: HeldLock,
  target: string,
  bytes: Uint8Array,
  options: { sync: boolean; staleMs: number },
): Promise<void> {
  held.isDone = true;
  try {
    await writeFully(held.fd, bytes);
    if (options.sync) await flush(held.fd);
    if (!(await isStillHeld(held, options.staleMs))) throw new LockLost(options.staleMs);
  } catch (error) {
    closeFile(held.fd);
    // A lost lock file is another holder's now: leave it.
    if (!(error instanceof LockLost)) await removeIfPresent(held.path).catch(() => undefined);
    throw error;
  }
  // Never waits for the disk: the file is open and was just written.
  const identity = fstatSync(held.fd, { bigint: true });
  closeFile(held.fd, true);
  try {
    await renameOwn(held.path, target, identity, options.staleMs);
  } catch (error) {
    // ENOENT: the lock file was broken away (see `isStillHeld`); any file there now is not ours.
    if (!isMissing(error) && !(error instanceof LockLost)) {
      await removeIfPresent(held.path).catch(() => undefined);
    }
    throw error;
  }
  if (options.sync) await syncDirectory(dirname(target));
}

/**
 * Runs operations on one key one after the other within this process, so that concurrent
 * requests of one session queue in memory instead of polling the lock file.
 */
export function keyedQueue(): <T>(key: string, run: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return async (key, run) => {
    const previous = tails.get(key);
    let done = (): void => undefined;
    const tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    tails.set(key, tail);
    await previous;
    try {
      return await run();
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
      done();
    }
  };
}
