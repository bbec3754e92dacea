/** Shared pieces of the conformance suites. Internal. @module */
import { toBase64URL } from '../core/bytes.ts';
import { StoreError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import type { StoreConformanceOptions } from './index.ts';

/** Strings that are not store keys (64 lower-case hex digits): paths, SQL, near misses. */
export const HOSTILE_STORE_KEYS: readonly string[] = [
  '../../../../etc/passwd',
  "x'; DROP TABLE sessions; --",
  'A'.repeat(64),
  'a'.repeat(63),
  'a'.repeat(65),
  `${'a'.repeat(63)}\n`,
  `${'a'.repeat(64)}\n../../../../etc/passwd`, // a multi-line pattern would pass its first line
  'g'.repeat(64), // letters, but not hex digits
  '',
];

const PAD = 'a'.repeat(16);

/**
 * Strings that are not user keys (16 to 128 of `A-Z a-z 0-9 _ -`, see `isUserKey`): paths, SQL,
 * glob and hash-tag syntax, control bytes, too short or too long. Most are padded to a valid
 * length, so that a store checking only the length does not pass.
 */
export const HOSTILE_USER_KEYS: readonly string[] = [
  '../../etc',
  `${PAD}/../../../etc`,
  "x' OR 1=1 --",
  `${PAD}' OR 1=1 --`,
  'a b',
  `${PAD} ${PAD}`,
  '',
  '*',
  '*'.repeat(16),
  '{slot}',
  `{slot}${PAD}`,
  `${PAD}\0`,
  `${PAD}\0${PAD}`,
  `${PAD}\r\nFLUSHALL`,
  `${'a'.repeat(64)}\n`,
  '\uff41'.repeat(16), // fullwidth 'a': letters, but not ASCII
  'a'.repeat(15),
  'a'.repeat(129),
  'a'.repeat(100_000),
];

/** A random, well-formed store key, so tests sharing a back-end never collide. */
export function randomStoreKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * A random, well-formed user key of `length` characters (16 to 128), base64url with both `-`
 * and `_` in it, as the core may send.
 */
export function randomUserKey(length = 43): string {
  const random = toBase64URL(globalThis.crypto.getRandomValues(new Uint8Array(96)));
  return `-_${random}`.slice(0, length);
}

/** Random bytes standing in for a sealed record. */
export function randomRecord(length = 64): Uint8Array {
  const record = new Uint8Array(length);
  // getRandomValues fills at most 65 536 bytes a call.
  for (let at = 0; at < length; at += 65_536) {
    globalThis.crypto.getRandomValues(record.subarray(at, at + 65_536));
  }
  return record;
}

/** An expiry an hour from now. */
export function later(): number {
  return Date.now() + 3_600_000;
}

/** Runs a test body against a fresh store, closing it afterwards. */
export async function withStore(
  options: StoreConformanceOptions,
  body: (store: Store) => Promise<void>,
): Promise<void> {
  const store = await options.createStore();
  try {
    await body(store);
  } finally {
    await options.closeStore?.(store);
  }
}

/**
 * Expects `run` to refuse a key with a `StoreError` of code `STORE_KEY_INVALID` naming `store`.
 */
export async function expectKeyRefused(
  store: Store,
  run: () => Promise<unknown>,
  what: string,
): Promise<void> {
  try {
    await run();
  } catch (error) {
    check(
      error instanceof StoreError && error.code === 'STORE_KEY_INVALID',
      `${what}: wrong error ${String(error)}`,
    );
    check(error.store === store.name, `${what}: the error names store ${error.store}`);
    return;
  }
  throw new Error(`store conformance: ${what} accepted a malformed key`);
}

/** A short, printable label of a test key for messages (test keys are no secret). */
export function labelOf(key: string): string {
  return JSON.stringify(key.slice(0, 20));
}

/** Throws with `message` unless `condition` holds (the suite depends on no assertion library). */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`store conformance: ${message}`);
}

/** Whether two byte arrays are equal. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
