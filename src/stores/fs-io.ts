/**
 * File operations of the file store: reads that treat a missing file as absent, exclusive
 * creation, flushes, and removals that tolerate a file already gone. Internal to `pithos/fs`.
 *
 * Built on the callback API with plain descriptors: per call it costs a fraction of
 * `fs/promises`' `FileHandle`, which shows on every request and when `prune` walks a million
 * files. Each asynchronous call is a hop to libuv's thread pool and back (about 8 µs of CPU
 * here), so a request's file work is counted in hops: see "Cost per request" in
 * `docs/stores/fs.md`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

/** Permissions of every directory the store creates. */
export const DIRECTORY_MODE = 0o700;
/** Permissions of every file the store creates. */
export const FILE_MODE = 0o600;
/** Bytes read at once from a record file; larger files take one `fstat` and a second read. */
const READ_AHEAD = 4096;
/**
 * Read buffers of `READ_AHEAD` bytes not in use. A read borrows one and copies out what it read
 * (a small copy comes from Node's shared pool): a fresh 4 KiB buffer per read would cost some
 * 3 µs of allocation and garbage collection, the copy under half a microsecond.
 */
const spareBuffers: Buffer[] = [];
const MAX_SPARE_BUFFERS = 64;

const openFile = promisify(fs.open);
const readInto = promisify(fs.read);
const writeFrom = promisify(fs.write);
const statOpen = promisify(fs.fstat);
const makeDirectory = promisify(fs.mkdir);
const unlink = promisify(fs.unlink);
/** Flushes an open file to disk. */
export const flush: (fd: number) => Promise<void> = promisify(fs.fsync);

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

const ignore = (): void => undefined;

/**
 * Closes a descriptor: synchronously while its file has a name, since closing a local file then
 * does no disk I/O and costs under 1 µs, where a hop to the thread pool and back costs about
 * 8 µs of CPU. A file unlinked meanwhile (a record replaced while it was being read) is closed
 * on the thread pool: that last close frees its inode and blocks, which may wait for the disk.
 */
export function closeFile(fd: number, isLinked: boolean = fs.fstatSync(fd).nlink > 0): void {
  if (isLinked) fs.closeSync(fd);
  else fs.close(fd, ignore);
}

/**
 * Whether `path` still names the file open at `fd`: a record file stops being the record only by
 * being replaced or removed, and while it is open its inode cannot be reused by another file.
 * Compared by inode, not by `nlink > 0`, which a hard link made elsewhere (a snapshot, `cp -al`)
 * keeps above zero after the record was replaced. Both calls read in memory: the file was just
 * opened by that path, so no disk I/O.
 */
export function isStillAt(fd: number, path: string): boolean {
  const open = fs.fstatSync(fd);
  const named = fs.statSync(path, { throwIfNoEntry: false });
  return named !== undefined && named.ino === open.ino && named.dev === open.dev;
}

/** Opens `path` for reading; `undefined` when it does not exist. */
export async function openIfPresent(path: string): Promise<number | undefined> {
  try {
    return await openFile(path, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Reads `fd` from `offset` to its end into `start` (grown from an `fstat`). */
async function readRest(fd: number, start: Buffer): Promise<Buffer> {
  const { size } = await statOpen(fd);
  let bytes = Buffer.allocUnsafe(Math.max(size, start.length) + 1);
  start.copy(bytes);
  let length = start.length;
  for (;;) {
    if (length === bytes.length) bytes = Buffer.concat([bytes], bytes.length * 2);
    const { bytesRead } = await readInto(fd, bytes, length, bytes.length - length, length);
    if (bytesRead === 0) return bytes.subarray(0, length);
    length += bytesRead;
  }
}

/**
 * The contents of the file open at `fd`: one `read` for a file of up to 4 KiB (a record of a few
 * hundred bytes of session data), where `readFile` would also take an `fstat`.
 */
export async function readOpen(fd: number): Promise<Buffer> {
  const start = spareBuffers.pop() ?? Buffer.allocUnsafe(READ_AHEAD);
  try {
    const { bytesRead } = await readInto(fd, start, 0, READ_AHEAD, 0);
    if (bytesRead < READ_AHEAD) return Buffer.from(start.subarray(0, bytesRead));
    return await readRest(fd, start);
  } finally {
    if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(start);
  }
}

/** The contents of `path`, or `undefined` when it does not exist. */
export async function readIfPresent(path: string): Promise<Buffer | undefined> {
  const fd = await openIfPresent(path);
  if (fd === undefined) return undefined;
  try {
    return await readOpen(fd);
  } finally {
    closeFile(fd);
  }
}

/** The first `length` bytes of `path` (fewer when it is shorter), or `undefined` when absent. */
export async function readStart(path: string, length: number): Promise<Uint8Array | undefined> {
  const fd = await openIfPresent(path);
  if (fd === undefined) return undefined;
  try {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await readInto(fd, buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    closeFile(fd);
  }
}

/** Writes all of `bytes` to `fd` at its start. */
export async function writeFully(fd: number, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await writeFrom(fd, bytes, offset, bytes.length - offset, offset);
    offset += bytesWritten;
  }
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

/**
 * Opens a new file exclusively for writing (a descriptor), creating its directory when it is
 * missing. Shard and user directories are made on first use, never checked beforehand.
 */
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
    closeFile(await createExclusive(path));
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Flushes a directory, so that a rename inside it survives a power loss. The directory is opened
 * synchronously: a rename has just looked it up, so that is a lookup in memory (about 1 µs,
 * against some 15 µs of CPU for a hop to the thread pool and back); the flush stays asynchronous.
 */
export async function syncDirectory(directory: string): Promise<void> {
  const fd = fs.openSync(directory, 'r');
  try {
    await flush(fd);
  } finally {
    closeFile(fd, true);
  }
}
