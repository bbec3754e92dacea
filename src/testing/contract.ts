/** The store contract tests: the raw interface, without a manager. Internal. @module */
import type { StoreConformanceOptions, TestRunner } from './index.ts';
import {
  check,
  expectKeyRefused,
  HOSTILE_STORE_KEYS,
  labelOf,
  later,
  randomRecord,
  randomStoreKey,
  sameBytes,
  withStore,
} from './support.ts';

/** Registers the raw contract tests. */
export function registerContractTests(runner: TestRunner, options: StoreConformanceOptions): void {
  const { it } = runner;
  const test = (name: string, body: Parameters<typeof withStore>[1]) =>
    it(name, () => withStore(options, body));

  test('an absent record reads as undefined, and deleting it is a no-op', async (store) => {
    const key = randomStoreKey();
    check((await store.get(key)) === undefined, 'absent record was not undefined');
    await store.delete(key);
    check((await store.get(key)) === undefined, 'delete of an absent record created one');
  });

  test('round-trips binary records of every byte value, and set replaces', async (store) => {
    const key = randomStoreKey();
    const record = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    await store.set(key, record, { expiresAt: later() });
    check(sameBytes(await store.get(key), record), 'record did not round-trip');
    const next = randomRecord(2000);
    await store.set(key, next, { expiresAt: later() });
    check(sameBytes(await store.get(key), next), 'set did not replace the record');
    await store.delete(key);
    check((await store.get(key)) === undefined, 'deleted record still reads');
  });

  test('records past their expiry read as absent', async (store) => {
    const key = randomStoreKey();
    await store.set(key, randomRecord(), { expiresAt: Date.now() - 1000 });
    check((await store.get(key)) === undefined, 'expired record was returned');
  });

  test('a rewrite takes its own expiry, by set and by compare-and-set', async (store) => {
    const past = () => Date.now() - 1000;
    const key = randomStoreKey();
    await store.set(key, randomRecord(), { expiresAt: past() });
    const renewed = randomRecord();
    await store.set(key, renewed, { expiresAt: later() });
    check(sameBytes(await store.get(key), renewed), 'set over an expired record kept its expiry');
    await store.set(key, randomRecord(), { expiresAt: past() });
    check((await store.get(key)) === undefined, 'set with a past expiry kept the old one');
    await store.delete(key);
    const compareAndSet = store.compareAndSet?.bind(store);
    if (compareAndSet === undefined) return;
    const other = randomStoreKey();
    await store.set(other, randomRecord(), { expiresAt: past() });
    const created = randomRecord();
    // An expired record counts as absent.
    check(
      await compareAndSet(other, undefined, created, { expiresAt: later() }),
      'compare-and-set over an expired record failed',
    );
    check(sameBytes(await store.get(other), created), 'compare-and-set kept the old expiry');
    await compareAndSet(other, created, randomRecord(), { expiresAt: past() });
    check((await store.get(other)) === undefined, 'compare-and-set with a past expiry kept it');
    await store.delete(other);
  });

  test('keys that differ in one digit, first or last, are different records', async (store) => {
    const key = randomStoreKey();
    const flip = (digit: string) => (digit === '0' ? '1' : '0');
    const neighbours = [
      `${flip(key[0] as string)}${key.slice(1)}`,
      `${key.slice(0, 63)}${flip(key[63] as string)}`,
    ];
    const record = randomRecord();
    await store.set(key, record, { expiresAt: later() });
    for (const neighbour of neighbours) {
      check((await store.get(neighbour)) === undefined, 'a neighbouring key read the record');
      await store.set(neighbour, randomRecord(), { expiresAt: later() });
      await store.delete(neighbour);
      check(sameBytes(await store.get(key), record), 'a neighbouring key’s writes reached it');
    }
    await store.delete(key);
  });

  test('round-trips a record of 70 000 bytes (more than the default largest session)', async (store) => {
    const key = randomStoreKey();
    const record = randomRecord(70_000);
    await store.set(key, record, { expiresAt: later() });
    check(sameBytes(await store.get(key), record), 'a large record did not round-trip');
    await store.delete(key);
  });

  test('keys that are not store keys are refused before any I/O', async (store) => {
    const compareAndSet = store.compareAndSet?.bind(store);
    for (const key of HOSTILE_STORE_KEYS) {
      const label = labelOf(key);
      await expectKeyRefused(store, () => store.get(key), `get(${label})`);
      await expectKeyRefused(
        store,
        () => store.set(key, randomRecord(), { expiresAt: later() }),
        `set(${label})`,
      );
      await expectKeyRefused(store, () => store.delete(key), `delete(${label})`);
      if (compareAndSet === undefined) continue;
      await expectKeyRefused(
        store,
        () => compareAndSet(key, undefined, randomRecord(), { expiresAt: later() }),
        `compareAndSet(${label})`,
      );
    }
  });

  it('compare-and-set: exactly one of two writers from the same version wins, and a delete is never undone', async () => {
    await withStore(options, async (store) => {
      const compareAndSet = store.compareAndSet?.bind(store);
      if (compareAndSet === undefined) return; // capability absent: nothing to check
      const key = randomStoreKey();
      const first = randomRecord();
      check(
        await compareAndSet(key, undefined, first, { expiresAt: later() }),
        'create-if-absent failed',
      );
      check(
        !(await compareAndSet(key, undefined, randomRecord(), { expiresAt: later() })),
        'create-if-absent overwrote',
      );
      const results = await Promise.all(
        [randomRecord(), randomRecord()].map((record) =>
          compareAndSet(key, first, record, { expiresAt: later() }),
        ),
      );
      check(
        results.filter(Boolean).length === 1,
        `expected one winner, got ${results.filter(Boolean).length}`,
      );
      const current = await store.get(key);
      await store.delete(key);
      check(
        !(await compareAndSet(key, current, randomRecord(), { expiresAt: later() })),
        'a write undid a delete',
      );
      check((await store.get(key)) === undefined, 'deleted record came back');
      // A deleted key is free again, for both writes.
      const again = randomRecord();
      check(
        await compareAndSet(key, undefined, again, { expiresAt: later() }),
        'create-if-absent failed after a delete',
      );
      check(sameBytes(await store.get(key), again), 'create-if-absent after a delete not kept');
      await store.delete(key);
      const set = randomRecord();
      await store.set(key, set, { expiresAt: later() });
      check(sameBytes(await store.get(key), set), 'set after a delete not kept');
      await store.delete(key);
    });
  });

  it('compare-and-set compares the whole record, byte for byte', async () => {
    await withStore(options, async (store) => {
      const compareAndSet = store.compareAndSet?.bind(store);
      if (compareAndSet === undefined) return; // capability absent
      const key = randomStoreKey();
      const current = randomRecord(200);
      await store.set(key, current, { expiresAt: later() });
      const flipped = (index: number) => {
        const copy = Uint8Array.from(current);
        copy[index] = (copy[index] as number) ^ 1;
        return copy;
      };
      const nearMisses = [
        flipped(0),
        flipped(current.length - 1),
        current.slice(0, -1),
        Uint8Array.from([...current, 0]),
      ];
      for (const expected of nearMisses) {
        check(
          !(await compareAndSet(key, expected, randomRecord(), { expiresAt: later() })),
          `compare-and-set matched a record that differs (${expected.length} bytes)`,
        );
        check(sameBytes(await store.get(key), current), 'a failed compare-and-set wrote');
      }
      check(
        await compareAndSet(key, Uint8Array.from(current), randomRecord(), { expiresAt: later() }),
        'compare-and-set refused an equal copy of the record',
      );
      await store.delete(key);
    });
  });

  it('stats: counts what the store holds', async () => {
    await withStore(options, async (store) => {
      const stats = store.stats?.bind(store);
      if (stats === undefined) return; // capability absent
      const keys = [randomStoreKey(), randomStoreKey(), randomStoreKey()];
      for (const key of keys) await store.set(key, randomRecord(100), { expiresAt: later() });
      const counted = await stats();
      check(Number.isInteger(counted.records) && counted.records >= 3, 'stats missed records');
      if (counted.expired !== undefined) {
        check(Number.isInteger(counted.expired), 'expired is not a count');
        check(counted.expired <= counted.records, 'more records expired than there are');
      }
      if (counted.bytes !== undefined) check(counted.bytes >= 300, 'stats under-counted the bytes');
      for (const key of keys) await store.delete(key);
    });
  });

  it('prune from several app instances at once is safe', async () => {
    const stores = await Promise.all([options.createStore(), options.createStore()]);
    try {
      const prunes = stores.map((store) => store.prune?.bind(store));
      const [first] = stores;
      if (first === undefined || prunes.some((prune) => prune === undefined)) return;
      const expired = Array.from({ length: 20 }, randomStoreKey);
      const live = randomStoreKey();
      for (const key of expired)
        await first.set(key, randomRecord(), { expiresAt: Date.now() - 1000 });
      await first.set(live, randomRecord(), { expiresAt: later() });
      const counts = await Promise.all(prunes.map((prune) => (prune as () => Promise<number>)()));
      check(
        counts.every((count) => Number.isInteger(count) && count >= 0),
        'prune did not return counts',
      );
      for (const key of expired)
        check((await first.get(key)) === undefined, 'expired record survived prune');
      check((await first.get(live)) !== undefined, 'concurrent prunes removed a live record');
      await first.delete(live);
    } finally {
      for (const store of stores) await options.closeStore?.(store);
    }
  });

  it('prune removes expired records, keeps live ones, and returns how many it removed', async () => {
    await withStore(options, async (store) => {
      const prune = store.prune?.bind(store);
      if (prune === undefined) return; // capability absent
      const expired = [randomStoreKey(), randomStoreKey(), randomStoreKey()];
      const live = [randomStoreKey(), randomStoreKey()];
      for (const key of expired)
        await store.set(key, randomRecord(), { expiresAt: Date.now() - 1000 });
      for (const key of live) await store.set(key, randomRecord(), { expiresAt: later() });
      const removed = await prune();
      check(Number.isInteger(removed) && removed >= 0, 'prune did not return a count');
      if (!options.nativeExpiry)
        check(removed >= expired.length, `prune removed ${removed}, expected at least 3`);
      for (const key of live)
        check((await store.get(key)) !== undefined, 'prune removed a live record');
      for (const key of expired)
        check((await store.get(key)) === undefined, 'expired record survived prune');
      for (const key of live) await store.delete(key);
    });
  });
}
