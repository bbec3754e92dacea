/**
 * The memcached store against real memcached servers: the conformance suite on the shared one at
 * 127.0.0.1:11211 (`scripts/services.sh`), the outage test on a dedicated one it kills and
 * restarts, then what is special to memcached: TTLs in whole seconds, absolute timestamps past
 * 30 days, the expiry header, CAS, and capabilities it lacks. Fails when memcached is missing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConfigError, createSessionManager, PithosError, StoreError } from '../../src/index.ts';
import { type MemcachedClient, memcachedStore } from '../../src/stores/memcached.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import {
  allKeys,
  dedicatedMemcached,
  memjsClient,
  rawValue,
  recording,
  remainingTTL,
  uniquePrefix,
} from './memcached-support.ts';

const client = memjsClient();
const prefix = uniquePrefix();
after(() => client.close());

describeStoreConformance('memcached', {
  createStore: () => memcachedStore({ client, prefix }),
  nativeExpiry: true,
  // Memcached cannot list keys for an application, but an operator can: the LRU crawler's
  // metadump gives every key, and each value is then read raw.
  async dump() {
    const keys = (await allKeys()).filter((key) => key.startsWith(prefix));
    assert.ok(keys.length > 0, 'the dump found none of the keys this run wrote');
    const values = await Promise.all(keys.map((key) => rawValue(client, key)));
    return Buffer.concat([Buffer.from(keys.join('\n')), ...values.filter((v) => v !== null)]);
  },
  outage: await (async () => {
    const server = await dedicatedMemcached();
    const outageClient = memjsClient(server.port);
    return {
      stop: () => server.stop(),
      start: () => server.start(),
      async createStore() {
        await server.start();
        return memcachedStore({ client: outageClient, timeoutMs: 1_000 });
      },
      async closeStore() {
        outageClient.close();
        await server.stop();
      },
      failWithinMs: 1_500,
    };
  })(),
});

const OPCODE = { set: 0x01, add: 0x02, delete: 0x04 };
const DAY = 86_400_000;
const record = (n: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (i * n) % 256);
const key = (n: number): string => n.toString(16).padStart(64, 'c');

/** A store on the shared memcached with a clock the test sets, and the frames it sends. */
function setup(now = Date.now()) {
  const clock = { now };
  const recorder = recording(client);
  const store = memcachedStore({ client: recorder.client, prefix, clock: () => clock.now });
  return { store, clock, sent: recorder.sent };
}

describe('memcached store: configuration and keys', () => {
  it('refuses a prefix memcached cannot carry, or a bad timeout, at construction', () => {
    for (const bad of ['has space', 'tab\t', 'é', 'x'.repeat(187)]) {
      assert.throws(() => memcachedStore({ client, prefix: bad }), ConfigError, bad);
    }
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      assert.throws(() => memcachedStore({ client, timeoutMs }), ConfigError);
    }
    assert.doesNotThrow(() => memcachedStore({ client, prefix: 'x'.repeat(186) }));
  });

  it('refuses keys that are not store keys without sending anything', async () => {
    const { store, sent } = setup();
    for (const bad of ['a'.repeat(63), 'A'.repeat(64), `${'a'.repeat(63)} `, '../x']) {
      await assert.rejects(store.get(bad), { code: 'STORE_KEY_INVALID', store: 'memcached' });
      await assert.rejects(store.set(bad, record(1), { expiresAt: Date.now() + DAY }), {
        code: 'STORE_KEY_INVALID',
      });
      await assert.rejects(store.delete(bad), { code: 'STORE_KEY_INVALID' });
      await assert.rejects(store.compareAndSet(bad, undefined, record(1), { expiresAt: 1 }), {
        code: 'STORE_KEY_INVALID',
      });
    }
    assert.equal(sent.length, 0);
  });

  it('keeps records under the prefix followed by the store key', async () => {
    const { store, sent } = setup();
    await store.set(key(1), record(1), { expiresAt: Date.now() + DAY });
    assert.equal(sent[0]?.key, `${prefix}${key(1)}`);
    assert.ok((await allKeys()).includes(`${prefix}${key(1)}`));
    await store.delete(key(1));
  });
});

describe('memcached store: expiry', () => {
  it('rounds a TTL up to whole seconds, plus one: expiresAt in 1.5 s is a TTL of 3 s', async () => {
    const { store, clock, sent } = setup();
    await store.set(key(2), record(2), { expiresAt: clock.now + 1_500 });
    assert.deepEqual(sent.at(-1), {
      opcode: OPCODE.set,
      key: `${prefix}${key(2)}`,
      expiration: 3,
      hasCAS: false,
    });
    const ttl = await remainingTTL(`${prefix}${key(2)}`);
    assert.ok(ttl !== undefined && ttl >= 1 && ttl <= 3, `memcached holds a TTL of ${ttl}`);
    await store.delete(key(2));
  });

  it('sends 30 days as seconds, and anything longer as an absolute unix timestamp', async () => {
    const { store, clock, sent } = setup();
    await store.set(key(3), record(3), { expiresAt: clock.now + 30 * DAY - 1_000 });
    assert.equal(sent.at(-1)?.expiration, 30 * 86_400);
    const expiresAt = clock.now + 40 * DAY + 300;
    await store.set(key(3), record(3), { expiresAt });
    assert.equal(sent.at(-1)?.expiration, Math.ceil(expiresAt / 1000) + 1);
    // Read back: had it been sent as seconds from now, memcached would have taken it for a time
    // in 1970 and dropped the record at once.
    assert.deepEqual(await store.get(key(3)), record(3));
    // Memcached counts from its own start time minus a couple of seconds and ticks its clock once
    // a second (later under load), so an absolute time reads back a few seconds long; what
    // matters is that it is 40 days and not gone or 30 days.
    const ttl = (await remainingTTL(`${prefix}${key(3)}`)) ?? 0;
    assert.ok(
      ttl >= 40 * 86_400 - 2 && ttl <= 40 * 86_400 + 10,
      `memcached holds a TTL of ${ttl} s`,
    );
    await store.delete(key(3));
  });

  it('an absolute expiry counts from the real time, whatever the store clock says', async () => {
    // A test clock in 2024: 40 days from it is still in the past for memcached's own clock.
    const { store, clock, sent } = setup(Date.UTC(2024, 0, 1));
    const realNow = Date.now();
    await store.set(key(6), record(6), { expiresAt: clock.now + 40 * DAY });
    const expiration = Number(sent.at(-1)?.expiration);
    const expected = Math.ceil((realNow + 40 * DAY) / 1000) + 1;
    assert.ok(
      Math.abs(expiration - expected) <= 2,
      `sent ${expiration}, expected about ${expected}`,
    );
    assert.deepEqual(await store.get(key(6)), record(6));
    assert.equal(
      await store.compareAndSet(key(6), record(6), record(7), { expiresAt: clock.now + 40 * DAY }),
      true,
    );
    assert.deepEqual(await store.get(key(6)), record(7));
    await store.delete(key(6));
  });

  it('an expiresAt already past deletes instead of writing', async () => {
    const { store, clock, sent } = setup();
    await store.set(key(4), record(4), { expiresAt: clock.now + DAY });
    await store.set(key(4), record(5), { expiresAt: clock.now - 1 });
    assert.equal(sent.at(-1)?.opcode, OPCODE.delete);
    assert.equal(await rawValue(client, `${prefix}${key(4)}`), null);
    assert.equal(await store.get(key(4)), undefined);
  });

  it('the expiry header hides a record memcached still holds past its expiresAt', async () => {
    const { store, clock } = setup();
    // Memcached holds it 7 s, so it is surely still there when read raw below.
    await store.set(key(5), record(5), { expiresAt: clock.now + 5_500 });
    assert.deepEqual(await store.get(key(5)), record(5));
    clock.now += 5_500;
    assert.equal(await store.get(key(5)), undefined);
    assert.notEqual(await rawValue(client, `${prefix}${key(5)}`), null, 'memcached still has it');
    // Compare-and-set sees it as absent too: `expected` undefined wins, the old record loses.
    const options = { expiresAt: clock.now + DAY };
    assert.equal(await store.compareAndSet(key(5), record(5), record(6), options), false);
    assert.equal(await store.compareAndSet(key(5), undefined, record(7), options), true);
    assert.deepEqual(await store.get(key(5)), record(7));
    await store.delete(key(5));
  });
});

describe('memcached store: compare-and-set', () => {
  it('of 10 concurrent writers from one version, exactly one wins, and its record stays', async () => {
    const { store } = setup();
    const options = { expiresAt: Date.now() + DAY };
    assert.equal(await store.compareAndSet(key(6), undefined, record(1), options), true);
    const candidates = Array.from({ length: 10 }, (_, i) => record(i + 10));
    const results = await Promise.all(
      candidates.map((next) => store.compareAndSet(key(6), record(1), next, options)),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.deepEqual(await store.get(key(6)), candidates[results.indexOf(true)]);
    await store.delete(key(6));
  });

  it('of 10 concurrent creators, exactly one wins', async () => {
    const { store, sent } = setup();
    const options = { expiresAt: Date.now() + DAY };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.compareAndSet(key(7), undefined, record(i), options),
      ),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.ok(sent.some((frame) => frame.opcode === OPCODE.add));
    await store.delete(key(7));
  });

  it('updates carry the CAS value, and a write never undoes a delete', async () => {
    const { store, clock, sent } = setup();
    const options = { expiresAt: clock.now + DAY };
    await store.set(key(8), record(1), options);
    assert.equal(await store.compareAndSet(key(8), record(1), record(2), options), true);
    assert.deepEqual(sent.at(-1), {
      opcode: OPCODE.set,
      key: `${prefix}${key(8)}`,
      expiration: 86_401,
      hasCAS: true,
      retries: 1,
    });
    await store.delete(key(8));
    assert.equal(await store.compareAndSet(key(8), record(2), record(3), options), false);
    assert.equal(await store.get(key(8)), undefined);
  });

  it('sends guarded writes and adds once: memjs resending one would misreport it', async () => {
    const { store, clock, sent } = setup();
    const options = { expiresAt: clock.now + DAY };
    sent.length = 0;
    assert.equal(await store.compareAndSet(key(20), undefined, record(1), options), true);
    await store.set(key(20), record(2), options);
    await store.get(key(20));
    for (const frame of sent) {
      const guarded = frame.opcode === OPCODE.add || frame.hasCAS;
      assert.equal(frame.retries, guarded ? 1 : undefined, JSON.stringify(frame));
    }
    assert.ok(sent.some((frame) => frame.opcode === OPCODE.add));
    assert.ok(sent.some((frame) => frame.opcode === OPCODE.set && !frame.hasCAS));
    await store.delete(key(20));
  });

  it('expecting a record it returned or wrote, it reuses that CAS value: one request', async () => {
    const { store, sent } = setup();
    const options = { expiresAt: Date.now() + DAY };
    await store.set(key(12), record(1), options);
    const loaded = await store.get(key(12));
    assert.ok(loaded);
    const [second, third] = [record(2), record(3)];
    sent.length = 0;
    assert.equal(await store.compareAndSet(key(12), loaded, second, options), true);
    assert.equal(await store.compareAndSet(key(12), second, third, options), true);
    const frames = sent.map((frame) => [frame.opcode, frame.hasCAS]);
    assert.deepEqual(frames, [
      [OPCODE.set, true],
      [OPCODE.set, true],
    ]);
    // A write it did not make (say, by another app instance) makes the remembered CAS stale.
    await store.set(key(12), record(5), options);
    assert.equal(await store.compareAndSet(key(12), third, record(4), options), false);
    assert.deepEqual(await store.get(key(12)), record(5));
    await store.delete(key(12));
  });

  it('refuses compare-and-set on a memcached that disables CAS (-C)', async () => {
    const server = await dedicatedMemcached(['-C']);
    const own = memjsClient(server.port);
    try {
      await server.start();
      const store = memcachedStore({ client: own });
      const options = { expiresAt: Date.now() + DAY };
      assert.equal(await store.compareAndSet(key(13), undefined, record(1), options), true);
      await assert.rejects(store.compareAndSet(key(13), record(1), record(2), options), {
        name: 'StoreError',
        message: /disables \(-C\)/,
      });
    } finally {
      own.close();
      await server.stop();
    }
  });

  it('writing an already expired record deletes with the CAS value, or not at all', async () => {
    const { store, clock, sent } = setup();
    await store.set(key(9), record(1), { expiresAt: clock.now + DAY });
    const expired = { expiresAt: clock.now - 1 };
    assert.equal(await store.compareAndSet(key(9), record(2), record(3), expired), false);
    assert.deepEqual(await store.get(key(9)), record(1));
    assert.equal(await store.compareAndSet(key(9), record(1), record(3), expired), true);
    assert.deepEqual(sent.at(-1)?.opcode, OPCODE.delete);
    assert.equal(sent.at(-1)?.hasCAS, true);
    assert.equal(await rawValue(client, `${prefix}${key(9)}`), null);
  });
});

describe('memcached store: failures and capabilities', () => {
  const failing = (perform: MemcachedClient['perform']): MemcachedClient => ({
    seq: 0,
    incrSeq() {},
    perform,
  });

  it('wraps a client error in a StoreError naming memcached, with its cause', async () => {
    const cause = new Error('connect ECONNREFUSED');
    const store = memcachedStore({ client: failing((_k, _r, _s, callback) => callback(cause)) });
    const error = await store.get(key(1)).catch((caught: unknown) => caught);
    assert.ok(error instanceof StoreError);
    assert.equal(error.store, 'memcached');
    assert.equal(error.code, 'STORE_FAILED');
    assert.equal(error.cause, cause);
  });

  it('fails within timeoutMs when the client never answers', async () => {
    const store = memcachedStore({ client: failing(() => {}), timeoutMs: 50 });
    const started = performance.now();
    await assert.rejects(store.set(key(1), record(1), { expiresAt: Date.now() + DAY }), {
      name: 'StoreError',
      message: /memcached store: set failed/,
    });
    // Without the timeout it would hang for ever; the bound leaves room for a loaded machine.
    assert.ok(performance.now() - started < 2_000);
  });

  it('reports a record memcached refuses as too large', async () => {
    const { store } = setup();
    const huge = new Uint8Array(2 * 1024 * 1024);
    await assert.rejects(store.set(key(10), huge, { expiresAt: Date.now() + DAY }), {
      name: 'StoreError',
      message: /value too large/,
    });
  });

  it('keeps working after memjs wraps its request counter past 2^31', async () => {
    const own = memjsClient();
    try {
      (own as unknown as { seq: number }).seq = 0x7fff_fffe;
      const store = memcachedStore({ client: own, prefix });
      for (const n of [1, 2, 3]) {
        await store.set(key(11), record(n), { expiresAt: Date.now() + DAY });
        assert.deepEqual(await store.get(key(11)), record(n));
      }
      assert.ok(own.seq < 0, 'memjs wrapped its counter to a negative number');
      await store.delete(key(11));
    } finally {
      own.close();
    }
  });

  it('has no per-user index and no prune; the manager says memcached cannot prune', async () => {
    const store = memcachedStore({ client, prefix });
    assert.equal('listByUser' in store, false);
    assert.equal('deleteByUser' in store, false);
    assert.equal('prune' in store, false);
    const secret = 'pithos-test-secret-3f9a1c07e2b84d6a9c5e1f0b7d2a4e68';
    const manager = createSessionManager({ store, secret });
    await assert.rejects(manager.prune(), (error: unknown) => {
      assert.ok(error instanceof PithosError);
      assert.equal(error.code, 'NOT_SUPPORTED');
      assert.match(error.message, /memcached store cannot prune/);
      return true;
    });
  });
});
