/**
 * Record locks of the file store, without a lock server: a lock file created with `O_EXCL`
 * (`open(path, 'wx')`), which only one process can create. A lock older than `staleMs` is taken
 * to belong to a process that died holding it, and may be broken. Internal to `pithos/fs`.
 *
 * @module
 */
import { link, rename, stat } from 'node:fs/promises';
import { createEmpty, isMissing, randomSuffix, removeIfPresent } from './fs-io.ts';

/** How the locks of one store behave. */
export interface LockOptions {
  /** Milliseconds since the epoch (compared with the lock file's modification time). */
  clock: () => number;
  /** Age after which a lock may be broken. */
  staleMs: number;
  /** How long to wait for a held lock before failing. */
  timeoutMs: number;
}

/** Releases a lock. */
export type Release = () => Promise<void>;

/** Thrown when a lock stays held longer than `timeoutMs`. */
export class LockTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`a record lock stayed held for more than ${timeoutMs} ms`);
    this.name = 'LockTimeout';
  }
}

async function tryCreate(path: string): Promise<Release | undefined> {
  if (!(await createEmpty(path))) return undefined;
  return async () => {
    await removeIfPresent(path);
  };
}

/**
 * Breaks the lock at `path` if it is stale; returns whether the path may now be free.
 *
 * Two processes may find the same stale lock. Unlinking it would let the slower one delete the
 * lock the faster one has just taken, so the lock is renamed aside and checked: when what was
 * moved is not the stale file that was seen (same inode), it is linked back (`link` never
 * replaces an existing file) and the lock counts as held.
 */
export async function breakIfStale(path: string, options: LockOptions): Promise<boolean> {
  let seen: Awaited<ReturnType<typeof stat>>;
  try {
    seen = await stat(path, { bigint: true });
  } catch (error) {
    if (isMissing(error)) return true;
    throw error;
  }
  if (options.clock() - Number(seen.mtimeMs) < options.staleMs) return false;
  const aside = `${path}.${randomSuffix()}.broken`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (isMissing(error)) return true;
    throw error;
  }
  const moved = await stat(aside, { bigint: true });
  const isSeen = moved.ino === seen.ino && moved.dev === seen.dev;
  if (!isSeen) await link(aside, path).catch(() => undefined);
  await removeIfPresent(aside);
  return isSeen;
}

function pause(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Takes the lock at `path` if it is free or stale; `undefined` when another holder has it. */
async function tryLock(path: string, options: LockOptions): Promise<Release | undefined> {
  const release = await tryCreate(path);
  if (release !== undefined || !(await breakIfStale(path, options))) return release;
  return await tryCreate(path);
}

/**
 * Takes the lock at `path`, waiting with a growing pause while another process holds it.
 * The wait is measured with the monotonic clock, not `options.clock`.
 */
export async function lock(path: string, options: LockOptions): Promise<Release> {
  const deadline = performance.now() + options.timeoutMs;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const release = await tryLock(path, options);
    if (release !== undefined) return release;
    if (performance.now() >= deadline) throw new LockTimeout(options.timeoutMs);
    await pause(wait * (0.5 + Math.random()));
  }
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
