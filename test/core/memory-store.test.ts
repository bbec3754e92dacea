/** The memory store: bounded LRU, expiry and prune, the per-user index, key checks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  createSessionManager,
  type PithosError,
  StoreError,
} from '../../src/index.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { fakeClock, SECRET, setup } from './helpers.ts';

const key = (n: number): string => n.toString(16).padStart(64, '0');
const bytes = (n: number): Uint8Array => Uint8Array.of(1, n);
const later = { expiresAt: Number.MAX_SAFE_INTEGER };

describe('memory store: bounds', () => {
  it('evicts the least recently used record first; get and set refresh recency', async () => {
    const store = memoryStore({ maxEntries: 3 });
    for (const n of [1, 2, 3]) await store.set(key(n), bytes(n), later);
    assert.deepEqual(await store.get(key(1)), bytes(1));
    await store.set(key(4), bytes(4), later);
    assert.equal(store.size, 3);
    assert.equal(await store.get(key(2)), undefined, 'the least recently used went first');
    await store.set(key(3), bytes(33), later);
    await store.set(key(5), bytes(5), later);
    assert.equal(await store.get(key(1)), undefined);
    for (const n of [3, 4, 5]) assert.ok(await store.get(key(n)), `record ${n} kept`);
  });

  it('evicts records without a user key first, so anonymous traffic never pushes out the per-user index', async () => {
    const store = memoryStore({ maxEntries: 4 });
    const userKey = 'user-key-0123456789';
    await store.set(key(1), bytes(1), { ...later, userKey });
    await store.set(key(2), bytes(2), { ...later, userKey });
    for (let n = 10; n < 30; n++) await store.set(key(n), bytes(n), later);
    assert.equal(store.size, 4);
    assert.deepEqual(await store.listByUser(userKey), [key(1), key(2)]);
    assert.equal(await store.get(key(10)), undefined, 'the oldest anonymous record went first');
    assert.ok(await store.get(key(29)));
    // Past half of maxEntries, indexed records go too, least recently used first, and a session
    // just written is never the one evicted.
    for (let n = 3; n < 6; n++) await store.set(key(n), bytes(n), { ...later, userKey });
    assert.deepEqual((await store.listByUser(userKey)).sort(), [key(4), key(5)]);
    assert.ok(await store.get(key(29)), 'the sessions stay');
    await store.set(key(40), bytes(40), later);
    assert.deepEqual(await store.get(key(40)), bytes(40), 'the session just written is kept');
    assert.deepEqual((await store.listByUser(userKey)).sort(), [key(4), key(5)]);
    assert.deepEqual(await store.stats(), { records: 4, expired: 0, bytes: 8 });
    assert.equal(await store.prune(), 0);
    await store.close();
    assert.equal(store.size, 0);
  });

  it('a record rewritten with or without a user key moves between the two orders', async () => {
    const store = memoryStore({ maxEntries: 2 });
    const userKey = 'user-key-0123456789';
    await store.set(key(1), bytes(1), { ...later, userKey });
    await store.set(key(1), bytes(11), later);
    assert.deepEqual(await store.listByUser(userKey), []);
    await store.set(key(2), bytes(2), { ...later, userKey });
    await store.set(key(3), bytes(3), later);
    assert.equal(await store.get(key(1)), undefined, 'record 1 lost its user key and went first');
    assert.deepEqual(await store.listByUser(userKey), [key(2)]);
    assert.deepEqual(await store.get(key(3)), bytes(3));
  });

  it('with maxEntries: 1, a record just written is the one kept, with a user key or without', async () => {
    const store = memoryStore({ maxEntries: 1 });
    const userKey = 'user-key-0123456789';
    await store.set(key(1), bytes(1), later);
    await store.set(key(2), bytes(2), { ...later, userKey });
    assert.deepEqual(await store.get(key(2)), bytes(2));
    assert.equal(await store.get(key(1)), undefined);
    await store.set(key(3), bytes(3), later);
    assert.deepEqual(await store.get(key(3)), bytes(3));
    assert.equal(store.size, 1);
  });

  it('refuses a maxEntries that is not a positive whole number', () => {
    for (const maxEntries of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => memoryStore({ maxEntries }), ConfigError);
    }
  });
});

describe('memory store: expiry', () => {
  it('never returns an expired record', async () => {
    const clock = fakeClock();
    const store = memoryStore({ clock: clock.read });
    await store.set(key(1), bytes(1), { expiresAt: clock.now + 1000 });
    assert.ok(await store.get(key(1)));
    clock.advance(1);
    assert.equal(await store.get(key(1)), undefined);
    assert.equal(store.size, 0, 'removed as it was met');
  });

  it('prune removes expired records and says how many', async () => {
    const clock = fakeClock();
    const store = memoryStore({ clock: clock.read });
    for (const n of [1, 2, 3])
      await store.set(key(n), bytes(n), { expiresAt: clock.now + n * 1000 });
    assert.equal(await store.prune(), 0);
    clock.advance(2);
    assert.equal(await store.prune(), 2);
    assert.equal(store.size, 1);
    assert.ok(await store.get(key(3)));
    assert.equal(await store.prune(), 0);
  });

  it('the manager prunes through the store, and says when a store cannot', async () => {
    const clock = fakeClock();
    const store = memoryStore({ clock: clock.read });
    const manager = createSessionManager({
      store,
      secret: SECRET,
      clock: clock.read,
      idleTimeout: 60,
    });
    const create = async (value: number) => {
      const session = await manager.load(undefined);
      session.set('a', value);
      await manager.commit(session);
    };
    await create(1);
    await create(2);
    clock.advance(61);
    await create(3);
    assert.equal(store.size, 3);
    assert.equal(await manager.prune(), 2);
    assert.equal(store.size, 1);

    const { manager: withoutPrune } = setup();
    await assert.rejects(withoutPrune.prune(), (error: PithosError) => {
      assert.equal(error.code, 'NOT_SUPPORTED');
      assert.match(error.message, /memory store cannot prune/);
      return true;
    });
  });
});

describe('memory store: compare-and-set', () => {
  it('writes only over the expected bytes, treating absent as undefined', async () => {
    const clock = fakeClock();
    const store = memoryStore({ clock: clock.read });
    const until = { expiresAt: clock.now + 1000 };
    assert.equal(await store.compareAndSet(key(1), bytes(9), bytes(1), until), false);
    assert.equal(await store.compareAndSet(key(1), undefined, bytes(1), until), true);
    assert.equal(await store.compareAndSet(key(1), undefined, bytes(2), until), false);
    assert.equal(await store.compareAndSet(key(1), bytes(2), bytes(3), until), false);
    assert.equal(await store.compareAndSet(key(1), Uint8Array.of(1, 1), bytes(3), until), true);
    assert.deepEqual(await store.get(key(1)), bytes(3));
    clock.advance(1);
    assert.equal(
      await store.compareAndSet(key(1), undefined, bytes(4), { expiresAt: clock.now + 1 }),
      true,
    );
  });
});

describe('memory store: per-user index', () => {
  it('lists and deletes the live records of one user only', async () => {
    const clock = fakeClock();
    const store = memoryStore({ clock: clock.read });
    const soon = clock.now + 1000;
    await store.set(key(1), bytes(1), { expiresAt: soon, userKey: 'u-alice-0123456789ab' });
    await store.set(key(2), bytes(2), { expiresAt: soon + 5000, userKey: 'u-alice-0123456789ab' });
    await store.set(key(3), bytes(3), { expiresAt: soon, userKey: 'u-bob-0123456789abcd' });
    await store.set(key(4), bytes(4), { expiresAt: soon });
    assert.deepEqual((await store.listByUser('u-alice-0123456789ab')).sort(), [key(1), key(2)]);
    assert.deepEqual(await store.listByUser('u-nobody-0123456789a'), []);
    clock.advance(1);
    assert.deepEqual(
      await store.listByUser('u-alice-0123456789ab'),
      [key(2)],
      'expired records are not listed',
    );
    assert.equal(await store.deleteByUser('u-alice-0123456789ab'), 1);
    assert.equal(await store.get(key(2)), undefined);
    assert.deepEqual(await store.listByUser('u-alice-0123456789ab'), []);
    assert.equal(await store.deleteByUser('u-alice-0123456789ab'), 0);
  });

  it('follows a record that is rewritten for another user or deleted', async () => {
    const store = memoryStore();
    await store.set(key(1), bytes(1), { ...later, userKey: 'u-alice-0123456789ab' });
    await store.set(key(1), bytes(2), { ...later, userKey: 'u-bob-0123456789abcd' });
    await store.set(key(2), bytes(3), { ...later, userKey: 'u-bob-0123456789abcd' });
    assert.deepEqual(await store.listByUser('u-alice-0123456789ab'), []);
    await store.delete(key(2));
    assert.deepEqual(await store.listByUser('u-bob-0123456789abcd'), [key(1)]);
    assert.equal(await store.deleteByUser('u-bob-0123456789abcd'), 1);
    assert.equal(store.size, 0);
  });
});

describe('memory store: keys and lifecycle', () => {
  const BAD = [
    '',
    'abc',
    key(1).toUpperCase().replace(/0/g, 'A'),
    `${key(1)}0`,
    key(1).slice(1),
    `${key(1).slice(0, 63)}g`,
    `../${key(1).slice(3)}`,
  ];

  it('refuses keys that are not store keys', async () => {
    const store = memoryStore();
    for (const bad of BAD) {
      const isInvalid = (error: StoreError) =>
        error instanceof StoreError &&
        error.code === 'STORE_KEY_INVALID' &&
        error.store === 'memory';
      await assert.rejects(store.get(bad), isInvalid);
      await assert.rejects(store.set(bad, bytes(1), later), isInvalid);
      await assert.rejects(store.delete(bad), isInvalid);
      await assert.rejects(store.compareAndSet(bad, undefined, bytes(1), later), isInvalid);
    }
    assert.equal(store.size, 0);
  });

  it('deleting an absent record is a no-op, and close drops everything', async () => {
    const store = memoryStore();
    await store.delete(key(7));
    await store.set(key(1), bytes(1), { ...later, userKey: 'u-0123456789abcdef' });
    await store.close();
    assert.equal(store.size, 0);
    assert.equal(await store.get(key(1)), undefined);
    assert.deepEqual(await store.listByUser('u-0123456789abcdef'), []);
  });
});

describe('memory store: device records that outlive their sessions', () => {
  it('never crowd out new sessions', async () => {
    const store = memoryStore({ maxEntries: 6 });
    for (let n = 0; n < 10; n++) {
      await store.set(key(100 + n), bytes(n), { ...later, userKey: `user-key-${n}-0123456789` });
    }
    for (let n = 0; n < 10; n++) {
      await store.set(key(200 + n), bytes(n), later);
      assert.deepEqual(await store.get(key(200 + n)), bytes(n), `session ${n} was kept`);
    }
    assert.equal(store.size, 6);
  });
});
