/**
 * The `pithos` command on the machine's Redis (127.0.0.1:6379) and Redis Cluster (7001-7003, from
 * scripts/services.sh), each run under its own key prefix. Fails, never skips, when Redis is down.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { createClient, createCluster } from 'redis';
import { type RedisStore, redisStore } from '../../src/stores/redis.ts';
import { dedicatedRedis } from '../stores/redis-support.ts';
import {
  assertExit,
  assertNothingSecret,
  logIn,
  pithos,
  plant,
  SECRET,
  unique,
  userOf,
} from './support.ts';

const ignore = (): void => {};
const client = createClient({ socket: { host: '127.0.0.1', port: 6379, connectTimeout: 2_000 } });
client.on('error', ignore);
const cluster = createCluster({
  rootNodes: [{ url: 'redis://127.0.0.1:7001' }],
  defaults: { socket: { connectTimeout: 2_000 } },
});
cluster.on('error', ignore);
const connected = Promise.all([client.connect(), cluster.connect()]);

/** A store under a fresh prefix, and its URL for the command. */
function fresh(kind: 'single' | 'cluster'): { store: RedisStore; url: string; prefix: string } {
  const prefix = `${unique(`pithos-cli-test:${kind}`)}:`;
  const target = kind === 'single' ? client : cluster;
  const base =
    kind === 'single' ? 'redis://127.0.0.1:6379' : 'redis+cluster://127.0.0.1:7001,127.0.0.1:7002';
  const url = `${base}?prefix=${encodeURIComponent(prefix)}`;
  return { store: redisStore({ client: target, prefix }), url, prefix };
}

const prefixes: string[] = [];
after(async () => {
  await connected.catch(ignore);
  for (const prefix of prefixes) {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
    for (const master of cluster.masters) {
      const node = await cluster.nodeClient(master);
      for await (const keys of node.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        for (const key of keys) await cluster.del(key);
      }
    }
  }
  client.destroy();
  cluster.destroy();
  assertNothingSecret(SECRET);
});

/**
 * A port nothing listens on: 1, a privileged port no test can take (a port freed after a
 * `listen(0)` could be taken by another test file before the CLI connects to it).
 */
async function closedPort(): Promise<number> {
  return 1;
}

describe('pithos doctor on Redis', () => {
  it('passes on the machine Redis, reporting native expiry', async () => {
    await connected;
    const { url, prefix } = fresh('single');
    prefixes.push(prefix);
    const run = await pithos(['doctor', '--store', url], { env: { PITHOS_SECRET: SECRET } });
    assertExit(run, 0);
    assert.match(run.stdout, /^pithos doctor: Redis at 127\.0\.0\.1:6379, prefix pithos-cli-test/m);
    assert.match(run.stdout, /ok {4}round trip /);
    assert.match(run.stdout, /ok {4}user index /);
    assert.match(run.stdout, /info {2}prune +not needed: expired records vanish by themselves/);
    // Only the user index may stay, until its member's deadline: minutes, not the usual 30 days.
    for (const key of await client.keys(`${prefix}*`)) {
      assert.ok(key.startsWith(`${prefix}user:`), 'doctor left a record behind');
      const ttl = await client.pTTL(key);
      assert.ok(ttl > 0 && ttl <= 200_000, `the index stays ${ttl} ms`);
    }
  });

  it('fails clearly, within a few seconds, on a port where nothing listens', async () => {
    const port = await closedPort();
    const run = await pithos(['doctor', '--store', `redis://127.0.0.1:${port}`]);
    assertExit(run, 1);
    assert.match(run.stdout, new RegExp(`FAIL {2}connect +.*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    assert.match(run.stdout, /^unhealthy: 1 check\(s\) failed$/m);
    assert.ok(run.ms < 5_000, `doctor took ${Math.round(run.ms)} ms`);
    const stats = await pithos(['stats', '--store', `redis://127.0.0.1:${port}`]);
    assertExit(stats, 1);
    assert.match(stats.stderr, /cannot connect to Redis at 127\.0\.0\.1:\d+/);
  });

  it('passes on the Redis Cluster', async () => {
    await connected;
    const { url, prefix } = fresh('cluster');
    prefixes.push(prefix);
    const run = await pithos(['doctor', '--store', url]);
    assertExit(run, 0);
    assert.match(
      run.stdout,
      /^pithos doctor: Redis Cluster at 127\.0\.0\.1:7001,127\.0\.0\.1:7002/m,
    );
  });
});

describe('pithos on a Redis that does not answer', () => {
  it('fails within seconds on a server that accepts connections and never replies', async (t) => {
    const silent: Server = createServer(() => {}); // holds every connection, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      silent.close();
    });
    const { port } = silent.address() as { port: number };
    const run = await pithos(['stats', '--store', `redis://127.0.0.1:${port}`]);
    assertExit(run, 1);
    assert.match(
      run.stderr,
      /cannot connect to Redis at 127\.0\.0\.1:\d+ \(no answer within 5 s\)/,
    );
    assert.ok(run.ms < 15_000, `stats took ${Math.round(run.ms)} ms`);
  });

  it('reports a command that times out without waiting for the server to answer it', async (t) => {
    const redis = await dedicatedRedis();
    await redis.start();
    t.after(() => redis.stop());
    const admin = createClient({ socket: { host: '127.0.0.1', port: redis.port } });
    admin.on('error', ignore);
    await admin.connect();
    t.after(async () => {
      await admin.sendCommand(['CLIENT', 'UNPAUSE']).catch(ignore);
      admin.destroy();
    });
    const prefix = 'pithos-cli-paused:';
    const store = redisStore({ client: admin, prefix });
    const url = `redis://127.0.0.1:${redis.port}?prefix=${encodeURIComponent(prefix)}`;
    await logIn(store, 'paula', 1);
    // Reads are answered, writes wait: revoke's deletes time out in the store, and the client's
    // close would wait for them until the pause ends.
    await admin.sendCommand(['CLIENT', 'PAUSE', '25000', 'WRITE']);
    const run = await pithos(['revoke', '--store', url, '--user', 'paula'], {
      env: { PITHOS_SECRET: SECRET },
    });
    assertExit(run, 1);
    assert.match(run.stderr, /no reply within 2000 ms/);
    assert.ok(run.ms < 15_000, `revoke took ${Math.round(run.ms)} ms`);
  });
});

describe('pithos stats and prune on Redis', () => {
  it('stats counts the records under the prefix and their bytes; expired does not apply', async () => {
    await connected;
    const { store, url, prefix } = fresh('single');
    prefixes.push(prefix);
    await plant(store, { live: [40, 50, 60] });
    const json = await pithos(['stats', '--store', url, '--json']);
    assertExit(json, 0);
    assert.deepEqual(
      { ...JSON.parse(json.stdout), label: undefined },
      { store: 'redis', label: undefined, records: 3, expired: null, bytes: 150 },
    );
    // A login adds a session record, a device record, and an index key that is not a record.
    await logIn(store, 'dora', 1);
    const human = await pithos(['stats', '--store', url]);
    assertExit(human, 0);
    assert.match(human.stdout, /^records {2}5$/m);
    assert.match(human.stdout, /^expired {2}not applicable: Redis removes each record itself/m);
    assert.match(human.stdout, /^bytes {4}\d+ bytes$/m);
  });

  it('stats scans every master of a Cluster', async () => {
    await connected;
    const { store, url, prefix } = fresh('cluster');
    prefixes.push(prefix);
    await plant(store, { live: Array.from({ length: 30 }, () => 10) });
    const run = await pithos(['stats', '--store', url, '--json']);
    assertExit(run, 0);
    const stats = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(stats.records, 30);
    assert.equal(stats.bytes, 300);
  });

  it('stats reaches Redis at an IPv6 address', async () => {
    const { prefix } = fresh('single');
    const url = `redis://[::1]:6379?prefix=${encodeURIComponent(prefix)}`;
    const run = await pithos(['stats', '--store', url]);
    assertExit(run, 0);
    assert.match(run.stdout, /^records +0$/m);
  });

  it('prune says Redis expires records itself, and exits 0', async () => {
    const { url } = fresh('single');
    const run = await pithos(['prune', '--store', url]);
    assertExit(run, 0);
    assert.match(run.stdout, /^nothing to prune: Redis removes each record itself .*\(Redis at /);
  });
});

describe('pithos revoke on Redis', () => {
  it('ends every session of one user, and only theirs', async () => {
    await connected;
    const { store, url, prefix } = fresh('single');
    prefixes.push(prefix);
    const erin = await logIn(store, 'erin', 3);
    const [frank] = await logIn(store, 'frank', 1);
    const run = await pithos(['revoke', '--store', url, '--user', 'erin'], {
      env: { PITHOS_SECRET: SECRET },
    });
    assertExit(run, 0);
    assert.match(run.stdout, /^ended 3 session\(s\) of user "erin" in Redis at /);
    for (const cookie of erin) assert.equal(await userOf(store, cookie), undefined);
    assert.equal(await userOf(store, frank as string), 'frank');
  });
});
