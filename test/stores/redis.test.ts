import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import { ConfigError, PithosError, StoreError } from '../../src/core/errors.ts';
import type { Store } from '../../src/core/store.ts';
import { type RedisClient, type RedisStore, redisStore } from '../../src/stores/redis.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import {
  dedicatedRedis,
  deleteKeys,
  dumpKeys,
  ioRedis,
  nodeRedis,
  SINGLE_PORT,
  uniquePrefix,
} from './redis-support.ts';

const prefix = uniquePrefix('single');
const nodeClient = await nodeRedis(SINGLE_PORT);
const ioClient = await ioRedis(SINGLE_PORT);
const dedicated = await dedicatedRedis();
await dedicated.start();

after(async () => {
  await deleteKeys([SINGLE_PORT], prefix);
  await nodeClient.close();
  await ioClient.quit();
  await dedicated.stop();
});

const storeKey = (): string =>
  Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('hex');
const userKey = (): string =>
  Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
const record = (): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(48));
const HOUR = 3_600_000;

interface Flavour {
  name: string;
  client: RedisClient;
  /** A fresh client of the dedicated server; `bounded` sets the client's fail-fast options. */
  connect(port: number, bounded: boolean): Promise<{ client: RedisClient; close(): void }>;
}

const flavours: Flavour[] = [
  {
    name: 'node-redis',
    client: nodeClient,
    async connect(port, bounded) {
      const client = await nodeRedis(port, bounded);
      return { client, close: () => client.destroy() };
    },
  },
  {
    name: 'ioredis',
    client: ioClient,
    async connect(port, bounded) {
      const client = await ioRedis(port, bounded);
      return { client, close: () => client.disconnect() };
    },
  },
];

async function refused(promise: Promise<unknown>, code = 'STORE_KEY_INVALID'): Promise<void> {
  await assert.rejects(promise, (error) => error instanceof StoreError && error.code === code);
}

for (const flavour of flavours) {
  const closers = new Map<Store, () => void>();
  describeStoreConformance(`redis (${flavour.name})`, {
    createStore: () => redisStore({ client: flavour.client, prefix }),
    dump: () => dumpKeys([SINGLE_PORT], prefix),
    nativeExpiry: true,
    outage: {
      stop: () => dedicated.stop(),
      start: () => dedicated.start(),
      async createStore() {
        const { client, close } = await flavour.connect(dedicated.port, true);
        const store = redisStore({ client, prefix, timeoutMs: 1_000 });
        closers.set(store, close);
        return store;
      },
      closeStore: (store) => closers.get(store)?.(),
      failWithinMs: 1_500,
    },
  });

  describe(`redis (${flavour.name}): what is special to Redis`, () => {
    const store = redisStore({ client: flavour.client, prefix });

    it('counts TTLs from the clock option, so a test clock far from now still keeps records', async () => {
      const fixed = Date.UTC(2024, 0, 1);
      const clocked = redisStore({ client: flavour.client, prefix, clock: () => fixed });
      const [key, user] = [storeKey(), userKey()];
      const expiresAt = fixed + HOUR;
      await clocked.set(key, record(), { expiresAt, userKey: user });
      assert.ok(await clocked.get(key), 'set kept it');
      const ttl = await ioClient.pttl(`${prefix}${key}`);
      assert.ok(ttl > HOUR - 10_000 && ttl <= HOUR, `record PTTL ${ttl}`);
      assert.deepEqual(await clocked.listByUser(user), [key]);
      const other = storeKey();
      assert.equal(await clocked.compareAndSet(other, undefined, record(), { expiresAt }), true);
      assert.ok(await clocked.get(other), 'compare-and-set kept it');
      assert.equal(await clocked.deleteByUser(user), 1);
      await clocked.delete(other);
    });

    it('reads values written before the owner header (a bare record) as they are', async () => {
      const [key, other, user] = [storeKey(), storeKey(), userKey()];
      await store.set(key, record(), { expiresAt: Date.now() + HOUR, userKey: user });
      // A bare sealed record, as earlier versions stored it: it starts with the format version.
      const bare = Buffer.concat([Buffer.from([1]), Buffer.from(record())]);
      await ioClient.set(`${prefix}${key}`, bare, 'PX', HOUR);
      assert.deepEqual(Buffer.from((await store.get(key)) as Uint8Array), bare);
      assert.deepEqual(await store.listByUser(user), [key]);
      const next = record();
      assert.equal(
        await store.compareAndSet(key, bare, next, { expiresAt: Date.now() + HOUR }),
        true,
      );
      assert.deepEqual(await store.get(key), next);
      await ioClient.set(`${prefix}${key}`, bare, 'PX', HOUR);
      await ioClient.set(`${prefix}${other}`, bare, 'PX', HOUR);
      assert.equal(await store.deleteByUser(user), 1);
      assert.equal(await store.get(key), undefined);
      await store.delete(other);
    });

    it('stores a record without an owner bare, as earlier versions read it; one starting with 0 too', async () => {
      const [key, zero] = [storeKey(), storeKey()];
      const sealed = Uint8Array.of(1, ...record());
      await store.set(key, sealed, { expiresAt: Date.now() + HOUR });
      assert.deepEqual(await ioClient.getBuffer(`${prefix}${key}`), Buffer.from(sealed));
      const next = Uint8Array.of(1, ...record());
      await store.compareAndSet(key, sealed, next, { expiresAt: Date.now() + HOUR });
      assert.deepEqual(await ioClient.getBuffer(`${prefix}${key}`), Buffer.from(next));
      const starting = Uint8Array.of(0, 7, ...record());
      await store.set(zero, starting, { expiresAt: Date.now() + HOUR });
      assert.deepEqual(await store.get(zero), starting);
      await store.delete(key);
      await store.delete(zero);
    });

    it('records and user indexes carry a TTL up to their expiry', async () => {
      const [key, user, expiresAt] = [storeKey(), userKey(), Date.now() + 60_000];
      await store.set(key, record(), { expiresAt, userKey: user });
      const ttl = await ioClient.pttl(`${prefix}${key}`);
      assert.ok(ttl > 50_000 && ttl <= 60_000, `record PTTL ${ttl}`);
      const indexTTL = await ioClient.pttl(`${prefix}user:${user}`);
      assert.ok(indexTTL > 60_000 && indexTTL <= 120_000, `index PTTL ${indexTTL}`);
      assert.equal(Number(await ioClient.zscore(`${prefix}user:${user}`, key)), expiresAt);
      await store.deleteByUser(user);
    });

    it('a set past its expiry deletes the record instead of writing it', async () => {
      const key = storeKey();
      await store.set(key, record(), { expiresAt: Date.now() + HOUR });
      await store.set(key, record(), { expiresAt: Date.now() - 1 });
      assert.equal(await ioClient.exists(`${prefix}${key}`), 0);
      assert.equal(await store.compareAndSet(key, undefined, record(), { expiresAt: 0 }), true);
      assert.equal(await ioClient.exists(`${prefix}${key}`), 0);
    });

    it('listByUser drops index members past their expiry and ignores foreign members', async () => {
      const [user, live, stale] = [userKey(), storeKey(), storeKey()];
      const index = `${prefix}user:${user}`;
      await store.set(live, record(), { expiresAt: Date.now() + HOUR, userKey: user });
      await ioClient.zadd(index, Date.now() - 1_000, stale, Date.now() + HOUR, 'not-a-store-key');
      assert.deepEqual(await store.listByUser(user), [live]);
      assert.equal(await ioClient.zscore(index, stale), null);
      assert.equal(await store.deleteByUser(user), 1);
      await ioClient.del(index);
    });

    it('refuses hostile user keys before writing anything', async () => {
      const key = storeKey();
      const hostile = [
        'short',
        'a b'.repeat(8),
        `${'a'.repeat(16)}\r\nFLUSHALL`,
        '{tag}aaaaaaaaaaaaaaaa',
      ];
      for (const bad of [...hostile, 'a'.repeat(129), '']) {
        const options = { expiresAt: Date.now() + HOUR, userKey: bad };
        await refused(store.set(key, record(), options));
        await refused(store.compareAndSet(key, undefined, record(), options));
        await refused(store.listByUser(bad));
        await refused(store.deleteByUser(bad));
      }
      assert.equal(await ioClient.exists(`${prefix}${key}`), 0);
    });

    it('after Redis restarts (forgetting its scripts), compare-and-set works again', async () => {
      const { client, close } = await flavour.connect(dedicated.port, true);
      const restarted = redisStore({ client, prefix });
      try {
        const [key, first, next] = [storeKey(), record(), record()];
        assert.ok(
          await restarted.compareAndSet(key, undefined, first, { expiresAt: Date.now() + HOUR }),
        );
        await dedicated.stop();
        await dedicated.start();
        await eventually(() => restarted.get(key));
        assert.ok(
          await restarted.compareAndSet(key, undefined, first, { expiresAt: Date.now() + HOUR }),
        );
        assert.ok(
          await restarted.compareAndSet(key, first, next, { expiresAt: Date.now() + HOUR }),
        );
      } finally {
        close();
      }
    });

    it('with the client queueing commands while offline, timeoutMs still bounds every operation', async () => {
      const { client, close } = await flavour.connect(dedicated.port, false);
      const slow = redisStore({ client, prefix, timeoutMs: 300 });
      const key = storeKey();
      try {
        await dedicated.stop();
        for (const operation of [
          () => slow.get(key),
          () => slow.set(key, record(), { expiresAt: Date.now() + HOUR }),
          () => slow.listByUser(userKey()),
        ]) {
          const started = performance.now();
          await refused(operation(), 'STORE_FAILED');
          assert.ok(performance.now() - started < 2_000, 'took too long to fail');
        }
      } finally {
        await dedicated.start();
      }
      try {
        if (flavour.name === 'node-redis') {
          // node-redis dropped the queued commands at their deadline: once it has reconnected,
          // the set that failed has not happened after all. Its queue is sent in order, so the
          // first reply after the reconnect comes after any command left in it. (ioredis cannot
          // drop them: see the store's page.)
          await eventually(() => slow.get(storeKey()));
          assert.equal(await slow.get(key), undefined, 'a set that failed was written later');
        }
      } finally {
        close();
      }
    });
  });
}

it('redis: the raw dump sees every key and value the store writes', async () => {
  const store = redisStore({ client: ioClient, prefix });
  const [key, user, bytes] = [storeKey(), userKey(), record()];
  await store.set(key, bytes, { expiresAt: Date.now() + HOUR, userKey: user });
  const dump = Buffer.from(await dumpKeys([SINGLE_PORT], prefix));
  for (const needle of [`${prefix}${key}`, `${prefix}user:${user}`, Buffer.from(bytes)])
    assert.ok(dump.includes(needle), 'the dump misses what the store wrote');
  await store.deleteByUser(user);
});

async function eventually<T>(operation: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

it('redis: compare-and-set is atomic: of 20 concurrent writers from two clients, one wins', async () => {
  const stores = [nodeClient, ioClient].map((client) => redisStore({ client, prefix }));
  const key = storeKey();
  const first = record();
  assert.ok(
    await stores[0]?.compareAndSet(key, undefined, first, { expiresAt: Date.now() + HOUR }),
  );
  const writes = Array.from({ length: 20 }, (_, i) => ({
    store: stores[i % 2] as RedisStore,
    next: record(),
  }));
  const results = await Promise.all(
    writes.map(({ store, next }) =>
      store.compareAndSet(key, first, next, { expiresAt: Date.now() + HOUR }),
    ),
  );
  assert.equal(results.filter(Boolean).length, 1);
  const winner = writes[results.indexOf(true)];
  assert.deepEqual(await stores[1]?.get(key), winner?.next);
  await stores[0]?.delete(key);
});

/** Fake clients of each shape, recording what they are sent, for tests that need no server. */
function fakes(reply: (args: unknown[]) => Promise<unknown>): [Fake, Fake, Fake] {
  const fake = (commandAt: number | 'all', shape: (send: Send) => RedisClient) => {
    const calls: unknown[][] = [];
    const send: Send = (...call) => {
      calls.push(call);
      return reply((commandAt === 'all' ? call : call[commandAt]) as unknown[]);
    };
    return { client: shape(send), calls };
  };
  return [
    fake(0, (send) => ({ sendCommand: send })),
    fake(2, (send) => ({ sendCommand: send, getSlotRandomNode: () => undefined })),
    fake('all', (send) => ({ callBuffer: send })),
  ];
}
type Send = (...call: unknown[]) => Promise<unknown>;
interface Fake {
  client: RedisClient;
  calls: unknown[][];
}

describe('redis: without a server', () => {
  it('refuses a client that is neither node-redis nor ioredis, and bad options', () => {
    const [{ client }] = fakes(async () => null);
    assert.throws(() => redisStore({ client: {} as RedisClient }), ConfigError);
    assert.throws(() => redisStore({ client, prefix: 1 as unknown as string }), ConfigError);
    // 2^31 ms and more: node's timers would fire after 1 ms.
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])
      assert.throws(() => redisStore({ client, timeoutMs }), ConfigError);
    assert.throws(() => redisStore({ client, clock: 5 as unknown as () => number }), ConfigError);
    // node-redis's Sentinel client sends commands with another call shape: refused, not garbled.
    const sentinel = createSentinel({
      name: 'm',
      sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }],
    });
    assert.throws(
      () => redisStore({ client: sentinel as unknown as RedisClient }),
      (error) => error instanceof ConfigError && /Sentinel/.test(error.message),
    );
  });

  it('sends each flavour its own call shape, asking node-redis for Buffers', async () => {
    const key = storeKey();
    const [single, cluster, io] = fakes(async () => null);
    for (const fake of [single, cluster, io]) await redisStore({ client: fake.client }).get(key);
    // A node-redis client that is not ready (these fakes say nothing of it) gets an abort signal
    // for the operation's deadline, not its own `timeout` (whose AbortSignal.timeout fires for
    // every command, long after the reply).
    const signalOf = (call: unknown[] | undefined) =>
      (call?.at(-1) as { abortSignal?: unknown } | undefined)?.abortSignal;
    for (const call of [single?.calls[0], cluster?.calls[0]]) {
      const signal = signalOf(call);
      assert.ok(signal instanceof AbortSignal && !signal.aborted);
    }
    const options = { typeMapping: { 36: Buffer }, abortSignal: signalOf(single?.calls[0]) };
    assert.deepEqual(single?.calls, [[['GET', `pithos:${key}`], options]]);
    const clusterOptions = { ...options, abortSignal: signalOf(cluster?.calls[0]) };
    assert.deepEqual(cluster?.calls, [
      [`pithos:${key}`, false, ['GET', `pithos:${key}`], clusterOptions],
    ]);
    assert.deepEqual(io?.calls, [['GET', `pithos:${key}`]]);
    // A ready client writes at once, where no abort reaches: it gets no signal at all. A ready
    // cluster does: one of its masters may be unreachable, its commands queued.
    const [ready, readyCluster] = fakes(async () => null);
    for (const fake of [ready, readyCluster]) {
      Object.defineProperty(fake?.client, 'isReady', { value: true });
      await redisStore({ client: fake?.client as RedisClient }).get(key);
    }
    assert.deepEqual(ready?.calls, [[['GET', `pithos:${key}`], { typeMapping: { 36: Buffer } }]]);
    const readySignal = signalOf(readyCluster?.calls[0]);
    assert.ok(readySignal instanceof AbortSignal);
    assert.deepEqual(readyCluster?.calls, [
      [
        `pithos:${key}`,
        false,
        ['GET', `pithos:${key}`],
        { typeMapping: { 36: Buffer }, abortSignal: readySignal },
      ],
    ]);
  });

  it('refuses hostile store keys and user keys before any I/O', async () => {
    for (const { client, calls } of fakes(async () => null)) {
      const store = redisStore({ client });
      const options = { expiresAt: Date.now() + HOUR, userKey: '../../x' };
      await refused(store.get('../etc/passwd'));
      await refused(store.delete('A'.repeat(64)));
      await refused(store.set(storeKey(), record(), options));
      await refused(store.compareAndSet(storeKey(), undefined, record(), options));
      await refused(store.listByUser('*'));
      assert.equal(calls.length, 0);
    }
  });

  it('wraps client errors and hung commands in a StoreError that keeps its cause', async () => {
    const failure = new Error('ECONNREFUSED');
    for (const { client } of fakes(() => Promise.reject(failure))) {
      const error = await redisStore({ client })
        .get(storeKey())
        .catch((e: unknown) => e);
      assert.ok(error instanceof StoreError && error.store === 'redis' && error.cause === failure);
    }
    for (const [index, { client, calls }] of fakes(() => new Promise(() => {})).entries()) {
      const started = performance.now();
      const error = await redisStore({ client, timeoutMs: 50 })
        .delete(storeKey())
        .catch((e: unknown) => e);
      assert.ok(
        error instanceof StoreError &&
          error.code === 'STORE_FAILED' &&
          error.cause instanceof Error,
      );
      assert.ok(performance.now() - started < 2_000);
      // node-redis (single and cluster) is told to drop the command: its signal has aborted.
      // ioredis has no per-command option.
      const signal = (calls[0]?.at(-1) as { abortSignal?: unknown } | undefined)?.abortSignal;
      if (index < 2) assert.ok(signal instanceof AbortSignal && signal.aborted);
      else assert.equal(signal, undefined);
    }
  });

  it('sends a script’s source when Redis does not know its digest (NOSCRIPT)', async () => {
    for (const { client, calls } of fakes(async (args) =>
      args[0] === 'EVALSHA' ? Promise.reject(new Error('NOSCRIPT No matching script')) : 1,
    )) {
      assert.ok(
        await redisStore({ client }).compareAndSet(storeKey(), undefined, record(), {
          expiresAt: Date.now() + HOUR,
        }),
      );
      assert.equal(calls.length, 2);
    }
  });

  it('fails with a StoreError when Redis replies with something other than bytes', async () => {
    const [fake] = fakes(async () => 'text');
    const error = await redisStore({ client: fake.client })
      .get(storeKey())
      .catch((e: unknown) => e);
    assert.ok(
      error instanceof StoreError && error instanceof PithosError && error.code === 'STORE_FAILED',
    );
  });
});

describe('redis: stats with an ioredis client that has its own keyPrefix', () => {
  it('counts the records under both prefixes', async () => {
    const client = new Redis({ host: '127.0.0.1', port: SINGLE_PORT, keyPrefix: `${prefix}app:` });
    try {
      const store = redisStore({ client, prefix: 'sessions:' });
      const keys = [storeKey(), storeKey(), storeKey()];
      for (const key of keys) await store.set(key, record(), { expiresAt: Date.now() + HOUR });
      assert.deepEqual(await store.stats(), { records: 3, bytes: 3 * 48 });
      for (const key of keys) await store.delete(key);
      assert.deepEqual(await store.stats(), { records: 0, bytes: 0 });
    } finally {
      client.disconnect();
    }
  });
});
