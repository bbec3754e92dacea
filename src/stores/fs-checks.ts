/**
 * Argument checks and error wrapping of the file store. Internal to `pithos/fs`.
 *
 * @module
 */
import { ConfigError, StoreError } from '../core/errors.ts';
import type { StoreSetOptions } from '../core/store.ts';
import { isStoreKey, isUserKey } from '../core/token.ts';
import { errorCode } from './fs-io.ts';
import { LockLost, LockTimeout } from './fs-lock.ts';

/** An option in milliseconds: `fallback` when absent, a `ConfigError` unless positive. */
export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`fileStore: ${name} must be a positive number of milliseconds`);
  }
  return value;
}

/** What a system error code means, for the message. */
const HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EMFILE: 'too many open files',
};

/** Runs one operation, turning anything it throws into a `StoreError` naming `fs`. */
export async function guarded<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof StoreError) throw error;
    const code = errorCode(error);
    const meaning = (code === undefined ? undefined : HINTS[code]) ?? 'failed';
    const isLock = error instanceof LockTimeout || error instanceof LockLost;
    const reason = isLock ? error.message : `${meaning} (${code ?? 'unexpected error'})`;
    throw new StoreError('fs', `${operation}: ${reason}`, { cause: error });
  }
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Refuses, before any I/O, a key that is not a store key (so no path can be built from it). */
export function checkKey(key: string): void {
  if (!isStoreKey(key)) {
    throw new StoreError('fs', 'refused a key that is not a store key', {
      code: 'STORE_KEY_INVALID',
    });
  }
}

/** Refuses a user key that is not an opaque key (it names a directory, through a hash). */
export function checkUserKey(userKey: string | undefined): void {
  if (userKey !== undefined && !isUserKey(userKey)) {
    throw new StoreError('fs', 'refused a user key that is not 16–128 of [A-Za-z0-9_-]', {
      code: 'STORE_KEY_INVALID',
    });
  }
}

/** Checks the arguments of a write. */
export function checkSet(key: string, options: StoreSetOptions): void {
  checkKey(key);
  checkUserKey(options.userKey);
  if (typeof options.expiresAt !== 'number' || Number.isNaN(options.expiresAt)) {
    throw new StoreError('fs', 'expiresAt must be milliseconds since the epoch');
  }
}
