/** Shared pieces of the conformance suites. Internal. @module */
import type { Store } from '../core/store.ts';
import type { StoreConformanceOptions } from './index.ts';

/** A random, well-formed store key, so tests sharing a back-end never collide. */
export function randomStoreKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Random bytes standing in for a sealed record. */
export function randomRecord(length = 64): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
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

/** Throws with `message` unless `condition` holds (the suite depends on no assertion library). */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`store conformance: ${message}`);
}

/** Whether two byte arrays are equal. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
