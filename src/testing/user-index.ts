/** Conformance tests of the per-user index (`listByUser`, `deleteByUser`). Internal. @module */
import type { Store, StoreSetOptions } from '../core/store.ts';
import type { StoreConformanceOptions, TestRunner } from './index.ts';
import {
  check,
  expectKeyRefused,
  HOSTILE_USER_KEYS,
  labelOf,
  later,
  randomRecord,
  randomStoreKey,
  randomUserKey,
  withStore,
} from './support.ts';

/** The index methods a store has, bound; `undefined` for one it lacks. */
interface UserIndex {
  list: ((userKey: string) => Promise<string[]>) | undefined;
  remove: ((userKey: string) => Promise<number>) | undefined;
}

function userIndexOf(store: Store): UserIndex | undefined {
  const list = typeof store.listByUser === 'function' ? store.listByUser.bind(store) : undefined;
  const remove =
    typeof store.deleteByUser === 'function' ? store.deleteByUser.bind(store) : undefined;
  return list === undefined && remove === undefined ? undefined : { list, remove };
}

function sameKeys(a: string[], b: string[]): boolean {
  return [...a].sort().join() === [...b].sort().join();
}

/** Resolves once `Date.now()` is past `time` (a few milliseconds away at most). */
async function passed(time: number): Promise<void> {
  while (Date.now() <= time) {
    await new Promise((resolve) => setTimeout(resolve, time - Date.now() + 1));
  }
}

/** Expects every write naming `userKey` to be refused, and to leave no record behind. */
async function expectWritesRefused(store: Store, userKey: string): Promise<void> {
  const label = labelOf(userKey);
  const setOptions: StoreSetOptions = { expiresAt: later(), userKey };
  const key = randomStoreKey();
  await expectKeyRefused(
    store,
    () => store.set(key, randomRecord(), setOptions),
    `set(userKey ${label})`,
  );
  if (typeof store.compareAndSet === 'function') {
    const compareAndSet = store.compareAndSet.bind(store);
    await expectKeyRefused(
      store,
      () => compareAndSet(key, undefined, randomRecord(), setOptions),
      `compareAndSet(userKey ${label})`,
    );
  }
  check((await store.get(key)) === undefined, `a write refused for userKey ${label} wrote`);
}

/**
 * Writes records of `userKey` that are past their expiry by every route: written so, replaced by
 * a write (or a compare-and-set) whose expiry is past, and lapsed a few milliseconds after being
 * written. Returns their store keys.
 */
async function writeExpiredRecords(store: Store, userKey: string): Promise<string[]> {
  const at = (expiresAt: number): StoreSetOptions => ({ expiresAt, userKey });
  const expired = randomStoreKey();
  const replaced = randomStoreKey();
  const swapped = randomStoreKey();
  const lapsed = randomStoreKey();
  await store.set(expired, randomRecord(), at(Date.now() - 1000));
  await store.set(replaced, randomRecord(), at(later()));
  await store.set(replaced, randomRecord(), at(Date.now() - 1000));
  if (typeof store.compareAndSet === 'function') {
    const first = randomRecord();
    await store.set(swapped, first, at(later()));
    const isSwapped = await store.compareAndSet(swapped, first, randomRecord(), at(0));
    check(isSwapped, 'compareAndSet over the current record did not write');
  }
  // Live when written (unless the write took longer), past its expiry a few ms later.
  const lapsesAt = Date.now() + 10;
  await store.set(lapsed, randomRecord(), at(lapsesAt));
  await passed(lapsesAt);
  return [expired, replaced, swapped, lapsed];
}

/** Registers the per-user index tests; each returns at once for a store without the index. */
export function registerUserIndexTests(runner: TestRunner, options: StoreConformanceOptions): void {
  const { it } = runner;

  it('per-user index: lists and deletes one user’s records only', async () => {
    await withStore(options, async (store) => {
      const list = store.listByUser?.bind(store);
      const remove = store.deleteByUser?.bind(store);
      // Each method is checked where the store has it: they are optional one by one.
      if (list === undefined && remove === undefined) return; // capability absent
      const [alice, bob] = [randomStoreKey(), randomStoreKey()];
      const aliceKeys = [randomStoreKey(), randomStoreKey(), randomStoreKey()];
      const bobKey = randomStoreKey();
      for (const key of aliceKeys)
        await store.set(key, randomRecord(), { expiresAt: later(), userKey: alice });
      await store.set(bobKey, randomRecord(), { expiresAt: later(), userKey: bob });
      if (list !== undefined) {
        check(sameKeys(await list(alice), aliceKeys), 'listByUser did not list the user’s keys');
        check(sameKeys(await list(bob), [bobKey]), 'listByUser did not list the other user’s key');
      }
      if (remove !== undefined) {
        check((await remove(alice)) === 3, 'deleteByUser did not report 3');
        for (const key of aliceKeys)
          check((await store.get(key)) === undefined, 'deleteByUser left a record');
        check(
          (await store.get(bobKey)) !== undefined,
          'deleteByUser removed another user’s record',
        );
        if (list !== undefined)
          check((await list(alice)).length === 0, 'listByUser still lists deleted records');
      }
      for (const key of [...aliceKeys, bobKey]) await store.delete(key);
    });
  });

  it('per-user index: a record written again under another user key, or none, leaves the first user', async () => {
    await withStore(options, async (store) => {
      const list = store.listByUser?.bind(store);
      const remove = store.deleteByUser?.bind(store);
      if (list === undefined && remove === undefined) return; // capability absent
      const [alice, bob] = [randomStoreKey(), randomStoreKey()];
      const [moved, cleared, swapped] = [randomStoreKey(), randomStoreKey(), randomStoreKey()];
      await store.set(moved, randomRecord(), { expiresAt: later(), userKey: alice });
      await store.set(moved, randomRecord(), { expiresAt: later(), userKey: bob });
      await store.set(cleared, randomRecord(), { expiresAt: later(), userKey: alice });
      await store.set(cleared, randomRecord(), { expiresAt: later() });
      if (typeof store.compareAndSet === 'function') {
        const first = randomRecord();
        await store.set(swapped, first, { expiresAt: later(), userKey: alice });
        const isSwapped = await store.compareAndSet(swapped, first, randomRecord(), {
          expiresAt: later(),
          userKey: bob,
        });
        check(isSwapped, 'compareAndSet over the current record did not write');
      }
      const bobKeys = typeof store.compareAndSet === 'function' ? [moved, swapped] : [moved];
      if (list !== undefined) {
        check((await list(alice)).length === 0, 'listByUser lists records now of another user');
        check(sameKeys(await list(bob), bobKeys), 'listByUser missed records written for the user');
      }
      if (remove !== undefined) {
        check((await remove(alice)) === 0, 'deleteByUser counted records of another user');
        for (const key of [moved, cleared])
          check(
            (await store.get(key)) !== undefined,
            'deleteByUser removed a record of another user',
          );
        check((await remove(bob)) === bobKeys.length, 'deleteByUser missed the user’s records');
      }
      for (const key of [moved, cleared, swapped]) await store.delete(key);
    });
  });

  it('per-user index: delete removes a user’s record from reads and from the index', async () => {
    await withStore(options, async (store) => {
      const list = store.listByUser?.bind(store);
      const remove = store.deleteByUser?.bind(store);
      const user = randomStoreKey();
      const [kept, deleted] = [randomStoreKey(), randomStoreKey()];
      for (const key of [kept, deleted])
        await store.set(key, randomRecord(), { expiresAt: later(), userKey: user });
      await store.delete(deleted);
      check((await store.get(deleted)) === undefined, 'delete left a record with a user key');
      if (list !== undefined)
        check(sameKeys(await list(user), [kept]), 'listByUser lists a deleted record');
      if (remove !== undefined) check((await remove(user)) === 1, 'deleteByUser counted it');
      await store.delete(kept);
    });
  });

  it('per-user index: user keys that are not well-formed are refused before any I/O', async () => {
    await withStore(options, async (store) => {
      const index = userIndexOf(store);
      if (index === undefined) return; // capability absent: the store ignores userKey
      const { list, remove } = index;
      for (const userKey of HOSTILE_USER_KEYS) {
        const label = labelOf(userKey);
        if (list) await expectKeyRefused(store, () => list(userKey), `listByUser(${label})`);
        if (remove) await expectKeyRefused(store, () => remove(userKey), `deleteByUser(${label})`);
        await expectWritesRefused(store, userKey);
      }
      // Well-formed keys of the shortest and longest lengths are not refused.
      for (const userKey of [randomUserKey(16), randomUserKey(128)]) {
        const key = randomStoreKey();
        await store.set(key, randomRecord(), { expiresAt: later(), userKey });
        const label = `a well-formed user key of ${userKey.length} characters`;
        if (list) check(sameKeys(await list(userKey), [key]), `listByUser missed ${label}`);
        if (remove) check((await remove(userKey)) === 1, `deleteByUser missed ${label}`);
        await store.delete(key);
      }
    });
  });

  it('per-user index: records past their expiry are neither listed nor counted as deleted', async () => {
    await withStore(options, async (store) => {
      const index = userIndexOf(store);
      if (index === undefined) return; // capability absent
      const userKey = randomUserKey();
      const live = randomStoreKey();
      await store.set(live, randomRecord(), { expiresAt: later(), userKey });
      const expired = await writeExpiredRecords(store, userKey);
      // Native expiry changes nothing here: like `get`, the index answers for live records only,
      // whenever the back-end gets round to removing the others.
      if (index.list) {
        const listed = await index.list(userKey);
        check(sameKeys(listed, [live]), `listByUser listed ${listed.length} records, expected 1`);
      }
      if (index.remove) {
        const removed = await index.remove(userKey);
        check(removed === 1, `deleteByUser counted ${removed} records, expected the 1 live one`);
        check((await store.get(live)) === undefined, 'deleteByUser left the live record');
      }
      for (const key of [live, ...expired]) await store.delete(key);
    });
  });
}
