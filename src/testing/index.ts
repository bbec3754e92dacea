/**
 * Test helpers for stores. Available from `pithos/testing`.
 *
 * `describeStoreConformance` registers the one suite every pithos store passes. Run it from your
 * own store's test file to check it against the contract:
 *
 * ```ts
 * import { describeStoreConformance } from 'pithos/testing';
 * describeStoreConformance('my store', { createStore: () => myStore({ client }) });
 * ```
 *
 * It uses `node:test` by default; pass `{ describe, it }` from another runner (Vitest, Jest)
 * through `runner`.
 *
 * @module
 */
import * as nodeTest from 'node:test';
import type { Store } from '../core/store.ts';
import { registerContractTests } from './contract.ts';
import { registerOutageTests } from './outage.ts';
import { registerSessionTests } from './sessions.ts';
import { registerUserIndexTests } from './user-index.ts';

/** The `describe`/`it` pair of a test runner. */
export interface TestRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void> | void): unknown;
}

/** A back-end the outage test may stop and start. */
export interface StoreOutage {
  /** Stops the back-end (the process, or its listener), so that connections fail. */
  stop(): Promise<void>;
  /** Starts it again on the same address. */
  start(): Promise<void>;
  /** Makes the store to test, connected to this back-end. Default: `createStore`. */
  createStore?: () => Store | Promise<Store>;
  /** Closes that store. Default: `closeStore`. */
  closeStore?: (store: Store) => Promise<void> | void;
  /** How long an operation may take to fail while the back-end is down. Default 5000 ms. */
  failWithinMs?: number;
  /** How long the store may take to work again after `start`. Default 10 000 ms. */
  recoverWithinMs?: number;
}

/** Options of `describeStoreConformance`. */
export interface StoreConformanceOptions {
  /** Makes a store to test. Called once per test; it may share a back-end, the suite uses fresh keys. */
  createStore: () => Store | Promise<Store>;
  /** Called after each test with the store it made (close connections the test opened). */
  closeStore?: (store: Store) => Promise<void> | void;
  /**
   * A raw dump of everything the back-end holds (files, rows, keys and values), used to check that
   * nothing is readable at rest. Without it, the suite checks the bytes the store was given.
   */
  dump?: () => Promise<string | Uint8Array>;
  /**
   * `true` when expired records vanish by themselves (native TTL), so `prune` may find fewer. It
   * relaxes nothing else: expired records still read as absent and drop out of `listByUser`.
   */
  nativeExpiry?: boolean;
  /**
   * How to stop and restart the back-end (a dedicated instance, not a shared one), to check that
   * every operation the store has (`get`, `set`, `delete`, and `compareAndSet`, `listByUser`,
   * `deleteByUser` where present) fails in bounded time with a `StoreError` while it is down,
   * that malformed keys are still refused then with `STORE_KEY_INVALID` (proof that the check
   * makes no I/O), and that they all work again after.
   */
  outage?: StoreOutage;
  /** The test runner. Default: `node:test`. */
  runner?: TestRunner;
}

/**
 * Registers the store conformance suite under `describe(name)`: round trips, expiry, hostile store
 * keys; compare-and-set, `stats` and `prune` where the store has them; where it has a per-user
 * index, hostile user keys refused before any I/O and expired records neither listed nor counted
 * as deleted; concurrent sessions through a real manager; nothing readable at rest; and, with
 * `outage`, bounded failures while the back-end is down.
 */
export function describeStoreConformance(name: string, options: StoreConformanceOptions): void {
  const runner: TestRunner = options.runner ?? nodeTest;
  runner.describe(`${name}: store conformance`, () => {
    registerContractTests(runner, options);
    registerUserIndexTests(runner, options);
    registerSessionTests(runner, options);
    registerOutageTests(runner, options);
  });
}
