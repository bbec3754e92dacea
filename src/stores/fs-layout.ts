/**
 * Where the file store keeps things, and the bytes of one record file. Internal to `pithos/fs`.
 *
 * ```
 * <directory>/records/ab/cd/<store key>           one record file per session
 * <directory>/records/ab/cd/<store key>.lock      held while the record is written or deleted
 * <directory>/records/ab/cd/.<store key>.<r>.tmp  a write in progress (renamed over the record)
 * <directory>/users/ef/01/<sha256(user key)>/<store key>   empty marker: the per-user index
 * ```
 *
 * A record file is a 10-byte header, the user key (ASCII, 0–128 bytes), then the sealed record:
 * byte 0 the layout version (1), byte 1 the user key's length, bytes 2–9 the plaintext expiry in
 * milliseconds since the epoch (float64, big-endian).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { join, sep } from 'node:path';
import { readStart } from './fs-io.ts';

/** The layout version in byte 0 of every record file. */
const LAYOUT_VERSION = 1;
/** Bytes before the user key. */
const HEADER_BYTES = 10;
/** The longest user key (see `isUserKey` in the core). */
const MAX_USER_KEY_BYTES = 128;
/** Enough bytes to hold any header with its user key. */
export const MAX_HEADER_BYTES: number = HEADER_BYTES + MAX_USER_KEY_BYTES;

/** The plaintext part of a record file. */
export interface RecordHeader {
  expiresAt: number;
  userKey: string | undefined;
  /** Where the sealed record starts. */
  recordOffset: number;
}

/** The directories and file names of one store. */
export interface Layout {
  readonly root: string;
  readonly records: string;
  readonly users: string;
}

/** The layout under `root` (an absolute path). */
export function layoutOf(root: string): Layout {
  return { root, records: join(root, 'records'), users: join(root, 'users') };
}

/**
 * Two levels of 256 shards, from the first four hex digits. `base` is already normalized and
 * `hex` is checked hex, so plain concatenation gives what `join` would, at a fraction of its cost
 * (these paths are built several times per request).
 */
function sharded(base: string, hex: string): string {
  return `${base}${sep}${hex.slice(0, 2)}${sep}${hex.slice(2, 4)}`;
}

/** The shard directory holding the record of `key`. */
export function shardOf(layout: Layout, key: string): string {
  return sharded(layout.records, key);
}

/** The record file of `key`. */
export function recordPath(layout: Layout, key: string): string {
  return `${shardOf(layout, key)}${sep}${key}`;
}

/** The lock file of `key`. */
export function lockPath(layout: Layout, key: string): string {
  return `${recordPath(layout, key)}.lock`;
}

/**
 * The name of a user's index directory: a hash, so that it is fixed-length lower-case hex
 * whatever the user key, and two keys differing only in case stay apart on case-insensitive
 * file systems.
 */
export function userDirName(userKey: string): string {
  return createHash('sha256').update(userKey).digest('hex');
}

/** The index directory of `userKey`. */
export function userDir(layout: Layout, userKey: string): string {
  const name = userDirName(userKey);
  return `${sharded(layout.users, name)}${sep}${name}`;
}

/** The bytes of a record file. */
export function encodeRecordFile(
  record: Uint8Array,
  expiresAt: number,
  userKey: string | undefined,
): Uint8Array {
  const user = Buffer.from(userKey ?? '', 'latin1');
  const file = Buffer.allocUnsafe(HEADER_BYTES + user.length + record.length);
  file[0] = LAYOUT_VERSION;
  file[1] = user.length;
  file.writeDoubleBE(expiresAt, 2);
  user.copy(file, HEADER_BYTES);
  file.set(record, HEADER_BYTES + user.length);
  return file;
}

/** The header of a record file, or `undefined` when the bytes are not a record file. */
export function decodeHeader(bytes: Uint8Array): RecordHeader | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== LAYOUT_VERSION) return undefined;
  const userLength = bytes[1] as number;
  const recordOffset = HEADER_BYTES + userLength;
  if (userLength > MAX_USER_KEY_BYTES || bytes.length < recordOffset) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expiresAt = view.getFloat64(2);
  const userKey =
    userLength === 0
      ? undefined
      : Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_BYTES, userLength).toString('latin1');
  return { expiresAt, userKey, recordOffset };
}

/** The sealed record in the bytes of a record file, when they are a live record at `now`. */
export function liveRecord(bytes: Uint8Array | undefined, now: number): Uint8Array | undefined {
  const header = bytes === undefined ? undefined : decodeHeader(bytes);
  if (bytes === undefined || !isLive(header, now)) return undefined;
  const offset = bytes.byteOffset + header.recordOffset;
  return new Uint8Array(bytes.buffer, offset, bytes.length - header.recordOffset);
}

/**
 * The header of the record file at `path`: `null` when there is no file, `undefined` when the
 * file is not a record file (which the store treats as an expired record).
 */
export async function readHeader(path: string): Promise<RecordHeader | undefined | null> {
  const start = await readStart(path, MAX_HEADER_BYTES);
  return start === undefined ? null : decodeHeader(start);
}

/** Whether a header read by `readHeader` is of a record that is live at `now`. */
export function isLive(
  header: RecordHeader | undefined | null,
  now: number,
): header is RecordHeader {
  return header != null && now < header.expiresAt;
}
