/** Outage tests: the back-end stops and comes back. Internal. @module */
import { PithosError, StoreError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import type { StoreConformanceOptions, TestRunner } from './index.ts';
import {
  check,
  HOSTILE_STORE_KEYS,
  HOSTILE_USER_KEYS,
  labelOf,
  later,
  randomRecord,
  randomStoreKey,
  randomUserKey,
  sameBytes,
} from './support.ts';

/** How long an operation may take to fail while the back-end is down, by default. */
const DEFAULT_FAILURE_MS = 5_000;

/** One store operation, named for messages. */
type Operation = [what: string, run: () => Promise<unknown>];

/** What `run` settled with (`'ok'` or what it threw), or `'hung'` past `waitMs`. */
async function outcomeOf(run: () => Promise<unknown>, waitMs: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), waitMs);
  });
  try {
    return await Promise.race([
      run().then(
        () => 'ok' as const,
        (error: unknown) => error,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function failsInTime([what, run]: Operation, limit: number, store: Store): Promise<void> {
  const started = performance.now();
  const outcome = await outcomeOf(run, limit + 1_000);
  check(
    outcome !== 'hung',
    `${what} hung for more than ${limit + 1_000} ms while the back-end was down`,
  );
  check(outcome !== 'ok', `${what} succeeded while the back-end was down`);
  check(outcome instanceof StoreError, `${what} failed with ${String(outcome)}, not a StoreError`);
  check(
    outcome.store === store.name,
    `${what}: the StoreError names ${outcome.store}, not ${store.name}`,
  );
  check(outcome.cause !== undefined, `${what}: the StoreError lost its cause`);
  check(performance.now() - started <= limit, `${what} took more than ${limit} ms to fail`);
}

/**
 * A malformed key is refused with `STORE_KEY_INVALID` even while the back-end is down: proof that
 * the check comes before any I/O (a store that asked the back-end first would fail otherwise).
 */
async function refusedInTime([what, run]: Operation, limit: number): Promise<void> {
  const outcome = await outcomeOf(run, limit + 1_000);
  check(
    outcome instanceof PithosError && outcome.code === 'STORE_KEY_INVALID',
    `${what} while the back-end was down: ${String(outcome)}, not a STORE_KEY_INVALID refusal`,
  );
}

/** Whether the store has a per-user index, so that writes name a user key. */
function hasUserIndex(store: Store): boolean {
  return typeof store.listByUser === 'function' || typeof store.deleteByUser === 'function';
}

/** Every operation the store has on `key` (holding `record`) and on `userKey`. */
function operationsOf(
  store: Store,
  key: string,
  record: Uint8Array,
  userKey: string | undefined,
): Operation[] {
  const setOptions = { expiresAt: later(), userKey };
  const operations: Operation[] = [
    ['get', () => store.get(key)],
    ['set', () => store.set(key, randomRecord(), setOptions)],
    ['delete', () => store.delete(key)],
  ];
  if (typeof store.compareAndSet === 'function') {
    const compareAndSet = store.compareAndSet.bind(store);
    operations.push([
      'compareAndSet',
      () => compareAndSet(key, record, randomRecord(), setOptions),
    ]);
  }
  if (userKey !== undefined && typeof store.listByUser === 'function') {
    const list = store.listByUser.bind(store);
    operations.push(['listByUser', () => list(userKey)]);
  }
  if (userKey !== undefined && typeof store.deleteByUser === 'function') {
    const remove = store.deleteByUser.bind(store);
    operations.push(['deleteByUser', () => remove(userKey)]);
  }
  return operations;
}

/** The store-wide operations the store has (`prune`, `stats`): they fail in an outage too. */
function storeWideOperationsOf(store: Store): Operation[] {
  const operations: Operation[] = [];
  if (typeof store.prune === 'function') operations.push(['prune', store.prune.bind(store)]);
  if (typeof store.stats === 'function') operations.push(['stats', store.stats.bind(store)]);
  return operations;
}

/** The operations of `operationsOf`, each with one malformed key (store key or user key). */
function malformedOperationsOf(store: Store): Operation[] {
  const [storeKey = ''] = HOSTILE_STORE_KEYS;
  const [userKey = ''] = HOSTILE_USER_KEYS;
  const operations = operationsOf(store, storeKey, randomRecord(), undefined).map(
    ([what, run]): Operation => [`${what}(${labelOf(storeKey)})`, run],
  );
  if (!hasUserIndex(store)) return operations;
  const byUser = operationsOf(store, randomStoreKey(), randomRecord(), userKey).filter(
    ([what]) => what !== 'get' && what !== 'delete',
  );
  return [
    ...operations,
    ...byUser.map(([what, run]): Operation => [`${what}(userKey ${labelOf(userKey)})`, run]),
  ];
}

/** Writes `record` until the store works again, then reads it back. */
async function recover(
  store: Store,
  key: string,
  record: Uint8Array,
  userKey: string | undefined,
  withinMs: number,
): Promise<Uint8Array | undefined> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      await store.set(key, record, { expiresAt: later(), userKey });
      return await store.get(key);
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Checks that the optional capabilities work again too, and removes the record. */
async function checkCapabilitiesBack(
  store: Store,
  key: string,
  recovered: Uint8Array,
  userKey: string | undefined,
): Promise<void> {
  if (typeof store.compareAndSet === 'function') {
    const isWritten = await store.compareAndSet(key, recovered, randomRecord(), {
      expiresAt: later(),
      userKey,
    });
    check(isWritten, 'compareAndSet did not work again after the back-end came back');
  }
  if (userKey !== undefined && typeof store.listByUser === 'function') {
    const listed = await store.listByUser(userKey);
    check(
      listed.length === 1 && listed[0] === key,
      'listByUser did not work again after the back-end came back',
    );
  }
  if (userKey !== undefined && typeof store.deleteByUser === 'function') {
    const removed = await store.deleteByUser(userKey);
    check(removed === 1, 'deleteByUser did not work again after the back-end came back');
  }
  await store.delete(key);
}

/**
 * Registers the outage test, when the options say how to stop and start the back-end: while it
 * is down, every operation the store has (`get`, `set`, `delete`, and `compareAndSet`,
 * `listByUser`, `deleteByUser`, `prune`, `stats` where present) fails in bounded time with a `StoreError` naming
 * the store and keeping its cause, and malformed keys are still refused at once; after it comes
 * back, they all work again.
 */
export function registerOutageTests(runner: TestRunner, options: StoreConformanceOptions): void {
  const outage = options.outage;
  if (outage === undefined) return;
  runner.it(
    'outage: operations fail in bounded time with a StoreError, and work again after',
    async () => {
      const store = await (outage.createStore ?? options.createStore)();
      const limit = outage.failWithinMs ?? DEFAULT_FAILURE_MS;
      try {
        const key = randomStoreKey();
        const record = randomRecord();
        const userKey = hasUserIndex(store) ? randomUserKey() : undefined;
        await store.set(key, record, { expiresAt: later(), userKey });
        await outage.stop();
        try {
          const operations = operationsOf(store, key, record, userKey);
          for (const operation of [...operations, ...storeWideOperationsOf(store)])
            await failsInTime(operation, limit, store);
          for (const operation of malformedOperationsOf(store))
            await refusedInTime(operation, limit);
        } finally {
          await outage.start();
        }
        const recovered = await recover(
          store,
          key,
          record,
          userKey,
          outage.recoverWithinMs ?? 10_000,
        );
        check(
          recovered !== undefined && sameBytes(recovered, record),
          'the store did not work again after the back-end came back',
        );
        await checkCapabilitiesBack(store, key, recovered, userKey);
      } finally {
        await (outage.closeStore ?? options.closeStore)?.(store);
      }
    },
  );
}
