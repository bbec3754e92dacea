/**
 * File operations of the file store: atomic writes, reads that treat a missing file as absent,
 * and removals that tolerate a file already gone. Internal to `pithos/fs`.
 *
 * Built on the callback API with plain descriptors: per call it costs a fraction of
 * `fs/promises`' `FileHandle`, which shows when `prune` walks a million files.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** Permissions of every directory the store creates. */
export const DIRECTORY_MODE = 0o700;
/** Permissions of every file the store creates. */
export const FILE_MODE = 0o600;

const openFile = promisify(fs.open);
const closeFile = promisify(fs.close);
const readInto = promisify(fs.read);
const writeAll = promisify(fs.writeFile);
const flush = promisify(fs.fsync);
const readWhole = promisify(fs.readFile);
const makeDirectory = promisify(fs.mkdir);
const unlink = promisify(fs.unlink);
const rename = promisify(fs.rename);

/** The `code` of a Node.js system error, if it is one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` says the file or one of its directories does not exist. */
export function isMissing(error: unknown): boolean {
  return errorCode(error) === 'ENOENT';
}

/** A short random suffix for a file name, so that concurrent writers never share a file. */
export function randomSuffix(): string {
  return randomBytes(8).toString('hex');
}

/** Runs `run` on an open descriptor, closing it afterwards. */
async function using<T>(fd: number, run: (fd: number) => Promise<T>): Promise<T> {
  try {
    return await run(fd);
  } finally {
    await closeFile(fd);
  }
}

/** The contents of `path`, or `undefined` when it does not exist. */
export async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readWhole(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The first `length` bytes of `path` (fewer when it is shorter), or `undefined` when absent. */
export async function readStart(path: string, length: number): Promise<Uint8Array | undefined> {
  let fd: number;
  try {
    fd = await openFile(path, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  return using(fd, async () => {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await readInto(fd, buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  });
}

/** Removes `path`; returns whether it was there. */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Creates `directory` and its missing parents with owner-only permissions, one level at a time.
 * Not `mkdir`'s `recursive` option: it retries forever where creating a directory fails with
 * ENOENT under a parent that exists (as under `/proc`).
 */
export async function ensureDirectory(directory: string): Promise<void> {
  try {
    await makeDirectory(directory, { mode: DIRECTORY_MODE });
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return;
    if (!isMissing(error) || dirname(directory) === directory) throw error;
    await ensureDirectory(dirname(directory));
    await makeDirectory(directory, { mode: DIRECTORY_MODE }).catch((again: unknown) => {
      if (errorCode(again) !== 'EEXIST') throw again;
    });
  }
}

/** `ensureDirectory`, synchronously (for the check when a store is created). */
export function ensureDirectorySync(directory: string): void {
  try {
    fs.mkdirSync(directory, { mode: DIRECTORY_MODE });
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return;
    if (!isMissing(error) || dirname(directory) === directory) throw error;
    ensureDirectorySync(dirname(directory));
    try {
      fs.mkdirSync(directory, { mode: DIRECTORY_MODE });
    } catch (again) {
      if (errorCode(again) !== 'EEXIST') throw again;
    }
  }
}

/** Opens a new file exclusively (a descriptor), creating its directory when it is missing. */
export async function createExclusive(path: string): Promise<number> {
  try {
    return await openFile(path, 'wx', FILE_MODE);
  } catch (error) {
    if (!isMissing(error)) throw error;
    // A shard or user directory is made on first use (and may have just been pruned if empty).
    await ensureDirectory(dirname(path));
    return await openFile(path, 'wx', FILE_MODE);
  }
}

/** Creates an empty file; returns `false` when it already exists. */
export async function createEmpty(path: string): Promise<boolean> {
  try {
    await closeFile(await createExclusive(path));
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/** Flushes a directory, so that a rename inside it survives a power loss. */
async function syncDirectory(directory: string): Promise<void> {
  await using(await openFile(directory, 'r'), flush);
}

/**
 * Replaces `path` with `bytes` atomically: a temporary file in the same directory, written
 * (and flushed when `sync`), then renamed over `path`. Readers see the old file or the new one,
 * never a part of either; a crash leaves at most a temporary file, which `prune` removes.
 */
export async function writeAtomically(
  path: string,
  bytes: Uint8Array,
  sync: boolean,
): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomSuffix()}.tmp`);
  const fd = await createExclusive(temporary);
  try {
    await using(fd, async () => {
      await writeAll(fd, bytes);
      if (sync) await flush(fd);
    });
    await rename(temporary, path);
  } catch (error) {
    await removeIfPresent(temporary).catch(() => undefined);
    throw error;
  }
  if (sync) await syncDirectory(dirname(path));
}
