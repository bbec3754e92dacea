import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type RedisClient, redisStore } from '../../src/stores/redis.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import {
  CLUSTER_PORTS,
  deleteKeys,
  dumpKeys,
  ioRedisCluster,
  nodeRedisCluster,
  uniquePrefix,
} from './redis-support.ts';

const prefix = uniquePrefix('cluster');
const nodeCluster = await nodeRedisCluster();
const ioCluster = await ioRedisCluster();

after(async () => {
  await deleteKeys(CLUSTER_PORTS, prefix);
  await nodeCluster.close();
  await ioCluster.quit();
});

const storeKey = (): string =>
  Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('hex');
const record = (): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(48));
const HOUR = 3_600_000;

/** The port of the master serving `key`, from `CLUSTER KEYSLOT` and `CLUSTER SLOTS`. */
async function masterOf(key: string): Promise<number> {
  const slot = Number(await ioCluster.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await ioCluster.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([first, last]) => slot >= first && slot <= last);
  assert.ok(range, `no master serves slot ${slot}`);
  return range[2][1];
}

/** Store keys whose records land on every master of the cluster, two per master. */
async function keysOnEveryMaster(): Promise<string[]> {
  const byMaster = new Map<number, string[]>();
  while ([...byMaster.values()].filter((keys) => keys.length >= 2).length < CLUSTER_PORTS.length) {
    const key = storeKey();
    const master = await masterOf(`${prefix}${key}`);
    byMaster.set(master, [...(byMaster.get(master) ?? []), key]);
  }
  return [...byMaster.values()].flatMap((keys) => keys.slice(0, 2));
}

const flavours: { name: string; client: RedisClient }[] = [
  { name: 'node-redis', client: nodeCluster },
  { name: 'ioredis', client: ioCluster },
];

for (const { name, client } of flavours) {
  describeStoreConformance(`redis cluster (${name})`, {
    createStore: () => redisStore({ client, prefix }),
    dump: () => dumpKeys(CLUSTER_PORTS, prefix),
    nativeExpiry: true,
  });

  describe(`redis cluster (${name}): slots`, () => {
    const store = redisStore({ client, prefix });

    it('the user index works with one user’s records spread over every master', async () => {
      const user = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(24))).toString(
        'base64url',
      );
      const keys = await keysOnEveryMaster();
      const masters = new Set(await Promise.all(keys.map((key) => masterOf(`${prefix}${key}`))));
      assert.equal(masters.size, CLUSTER_PORTS.length);
      for (const key of keys)
        await store.set(key, record(), { expiresAt: Date.now() + HOUR, userKey: user });
      await store.compareAndSet(storeKey(), undefined, record(), {
        expiresAt: Date.now() + HOUR,
        userKey: user,
      });
      const listed = await store.listByUser(user);
      assert.equal(listed.length, keys.length + 1);
      assert.ok(keys.every((key) => listed.includes(key)));
      assert.equal(await store.deleteByUser(user), keys.length + 1);
      for (const key of keys) assert.equal(await store.get(key), undefined);
      assert.deepEqual(await store.listByUser(user), []);
    });

    it('records carry a TTL on whichever master holds them', async () => {
      const key = storeKey();
      await store.set(key, record(), { expiresAt: Date.now() + 60_000 });
      const ttl = await ioCluster.pttl(`${prefix}${key}`);
      assert.ok(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`);
      await store.delete(key);
    });

    it('compare-and-set is atomic: of 20 concurrent writers, one wins', async () => {
      const key = storeKey();
      const first = record();
      assert.ok(await store.compareAndSet(key, undefined, first, { expiresAt: Date.now() + HOUR }));
      const nexts = Array.from({ length: 20 }, record);
      const results = await Promise.all(
        nexts.map((next) =>
          store.compareAndSet(key, first, next, { expiresAt: Date.now() + HOUR }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual(await store.get(key), nexts[results.indexOf(true)]);
      await store.delete(key);
    });
  });
}
