/** The file store: conformance, layout and permissions, atomic writes, key safety, locks, the index. */
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { StoreError } from '../../src/core/errors.ts';
import { fileStore } from '../../src/stores/fs.ts';
import { layoutOf } from '../../src/stores/fs-layout.ts';
import { pruneFiles } from '../../src/stores/fs-prune.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import {
  dumpTree,
  listTree,
  modeOf,
  shardDirectory,
  storeKey,
  temporaryDirectory,
  thrown,
} from './fs-support.ts';

/**
 * The store's prune, run as if `ms` of real time had passed: files age by the real time against
 * their timestamps (a ctime cannot be set back), so the file clock is moved instead. `now` is the
 * store's clock, for records' expiry.
 */
function pruneLater(root: string, ms: number, now: number): Promise<number> {
  return pruneFiles(layoutOf(resolve(root)), {
    clock: () => now,
    fileClock: () => Date.now() + ms,
    staleMs: 10_000,
    timeoutMs: 5_000,
  });
}

const conformanceRoot = temporaryDirectory();
describeStoreConformance('fs', {
  createStore: () => fileStore({ directory: conformanceRoot }),
  dump: async () => dumpTree(conformanceRoot),
});

const record = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const hour = (): { expiresAt: number } => ({ expiresAt: Date.now() + 3_600_000 });
const userKey = 'user-0123456789abcdef';

function isKeyError(error: unknown): boolean {
  return error instanceof StoreError && error.code === 'STORE_KEY_INVALID' && error.store === 'fs';
}

describe('fs store: layout and permissions', () => {
  it('shards records two levels deep by the first hex digits of the store key', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root });
    const key = storeKey('abcd');
    await store.set(key, record(1, 2, 3), hour());
    const path = join(root, 'records', 'ab', 'cd', key);
    assert.ok(existsSync(path));
    assert.deepEqual(readFileSync(path).subarray(-3), Buffer.from([1, 2, 3]));
  });

  it('creates directories 0700 and files 0600, and leaves no temporary or lock file', async () => {
    const parent = temporaryDirectory();
    const root = join(parent, 'new', 'sessions');
    const store = fileStore({ directory: root });
    const key = storeKey('0102');
    await store.set(key, record(1), { ...hour(), userKey });
    assert.equal(await store.compareAndSet(key, record(1), record(2), hour()), true);
    await store.set(storeKey(), record(3), hour());
    assert.equal(modeOf(join(parent, 'new')), 0o700);
    assert.equal(modeOf(root), 0o700);
    const tree = listTree(root);
    for (const path of tree) {
      const expected = statSync(join(root, path)).isFile() ? 0o600 : 0o700;
      assert.equal(modeOf(join(root, path)), expected, path);
    }
    assert.ok(
      tree.some((path) => path.startsWith('users/') && path.endsWith(key)),
      'a marker',
    );
    assert.ok(!tree.some((path) => /\.(tmp|lock|broken|pruned)$/.test(path)), tree.join('\n'));
  });

  it('fails at creation, clearly, when the directory cannot be written (even as root)', () => {
    const parent = temporaryDirectory();
    const file = join(parent, 'a-file');
    writeFileSync(file, 'not a directory');
    // Root ignores permission bits, so these fail for everyone: a path under a regular file, and
    // procfs, where even root cannot create anything (Node's own recursive mkdir loops there).
    const procfs = existsSync('/proc/self') ? ['/proc/pithos-sessions', '/proc'] : [];
    for (const directory of [join(file, 'sessions'), ...procfs]) {
      assert.throws(
        () => fileStore({ directory }),
        (error: unknown) =>
          error instanceof StoreError &&
          error.store === 'fs' &&
          error.cause !== undefined &&
          error.message.includes('cannot write to the directory'),
        directory,
      );
    }
  });

  it('fails at creation when a file sits where its records or users directory belongs', () => {
    for (const name of ['records', 'users']) {
      const directory = temporaryDirectory();
      writeFileSync(join(directory, name), 'not a directory');
      assert.throws(
        () => fileStore({ directory }),
        (error: unknown) =>
          error instanceof StoreError && error.message.includes('cannot write to the directory'),
        name,
      );
    }
  });

  it('refuses bad options at creation', () => {
    assert.throws(() => fileStore({ directory: '' }), /directory/);
    const directory = temporaryDirectory();
    assert.throws(() => fileStore({ directory, staleLockMs: 0 }), /staleLockMs/);
    assert.throws(() => fileStore({ directory, lockTimeoutMs: -1 }), /lockTimeoutMs/);
  });
});

describe('fs store: hostile input', () => {
  it('refuses path-like keys and user keys before touching the disk', async () => {
    const parent = temporaryDirectory();
    const root = join(parent, 'store');
    const store = fileStore({ directory: root });
    const before = listTree(parent);
    const hostile = [
      '../../../../tmp/x',
      `../${'a'.repeat(61)}`,
      `${'a'.repeat(62)}/.`,
      'A'.repeat(64),
    ];
    for (const key of hostile) {
      assert.ok(isKeyError(await thrown(() => store.get(key))));
      assert.ok(isKeyError(await thrown(() => store.set(key, record(1), hour()))));
      assert.ok(isKeyError(await thrown(() => store.delete(key))));
      assert.ok(
        isKeyError(await thrown(() => store.compareAndSet(key, undefined, record(1), hour()))),
      );
    }
    for (const user of ['../../../etc', 'short', 'x'.repeat(129), 'user/../../../../etc']) {
      assert.ok(isKeyError(await thrown(() => store.listByUser(user))));
      assert.ok(isKeyError(await thrown(() => store.deleteByUser(user))));
      const set = () => store.set(storeKey(), record(1), { ...hour(), userKey: user });
      assert.ok(isKeyError(await thrown(set)));
    }
    assert.deepEqual(listTree(parent), before);
  });

  it('wraps I/O failures in a StoreError naming fs, with the cause', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root });
    const key = storeKey();
    // A directory where the record file should be: reading it fails with EISDIR.
    mkdirSync(join(shardDirectory(root, key), key));
    const error = await thrown(() => store.get(key));
    assert.ok(error instanceof StoreError, String(error));
    assert.equal(error.store, 'fs');
    assert.equal(error.code, 'STORE_FAILED');
    assert.ok(error.cause !== undefined);
    assert.ok(!error.message.includes(key), 'the message names no store key');
  });
});

describe('fs store: atomic writes and leftovers', () => {
  it('ignores a leftover temporary file, and prune removes it once it is stale', async () => {
    const root = temporaryDirectory();
    const clock = { now: Date.now() };
    const store = fileStore({ directory: root, clock: () => clock.now, staleLockMs: 10_000 });
    const key = storeKey();
    await store.set(key, record(7), hour());
    const temporary = join(shardDirectory(root, key), `.${key}.deadbeef.tmp`);
    writeFileSync(temporary, 'a torn half-written record');
    assert.deepEqual(await store.get(key), record(7));
    assert.equal(await store.prune(), 0);
    assert.ok(existsSync(temporary), 'a fresh temporary file may be a write in progress');
    // Files age by the file clock (the real time in a store): a prune 11 s later.
    assert.equal(await pruneLater(root, 11_000, clock.now), 0);
    assert.ok(!existsSync(temporary), 'a stale temporary file is pruned');
    assert.deepEqual(await store.get(key), record(7));
  });

  it('reads a file that is not a record file as absent, and prunes it', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root });
    const key = storeKey();
    writeFileSync(join(shardDirectory(root, key), key), Buffer.from([9, 9]));
    assert.equal(await store.get(key), undefined);
    assert.equal(await store.compareAndSet(key, record(1), record(2), hour()), false);
    assert.equal(await store.prune(), 1);
    assert.ok(!existsSync(join(shardDirectory(root, key), key)));
  });

  it('an expired record can be created afresh by compare-and-set with nothing expected', async () => {
    const root = temporaryDirectory();
    const clock = { now: Date.now() };
    const store = fileStore({ directory: root, clock: () => clock.now });
    const key = storeKey();
    await store.set(key, record(1), { expiresAt: clock.now + 1000 });
    assert.equal(await store.compareAndSet(key, undefined, record(2), hour()), false);
    clock.now += 1000;
    assert.equal(await store.get(key), undefined);
    assert.equal(await store.compareAndSet(key, record(1), record(3), hour()), false);
    assert.equal(await store.compareAndSet(key, undefined, record(2), hour()), true);
    assert.deepEqual(await store.get(key), record(2));
  });
});

describe('fs store: locks between processes', () => {
  it('of two store instances on one directory, exactly one compare-and-set wins', async () => {
    const root = temporaryDirectory();
    const [first, second] = [fileStore({ directory: root }), fileStore({ directory: root })];
    for (let round = 0; round < 20; round++) {
      const key = storeKey();
      const base = record(round);
      await first.set(key, base, hour());
      const results = await Promise.all([
        first.compareAndSet(key, base, record(round, 1), hour()),
        second.compareAndSet(key, base, record(round, 2), hour()),
      ]);
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results}`);
      const winner = results[0] ? record(round, 1) : record(round, 2);
      assert.deepEqual(await second.get(key), winner);
      const creators = await Promise.all([
        first.compareAndSet(storeKey('00'), undefined, base, hour()),
        second.compareAndSet(key, undefined, base, hour()),
      ]);
      assert.deepEqual(creators, [true, false]);
    }
  });

  it('waits for a held lock, then fails with a StoreError after lockTimeoutMs', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root, lockTimeoutMs: 60 });
    const key = storeKey();
    const lockFile = join(shardDirectory(root, key), `${key}.lock`);
    writeFileSync(lockFile, '');
    const started = performance.now();
    const error = await thrown(() => store.set(key, record(1), hour()));
    assert.ok(error instanceof StoreError && error.store === 'fs', String(error));
    assert.match(error.message, /lock/);
    assert.ok(performance.now() - started < 2_000);
    assert.equal(await store.get(key), undefined);
  });

  it('breaks a lock older than staleLockMs (a holder that died), with an injected clock', async () => {
    const root = temporaryDirectory();
    const clock = { now: Date.now() };
    const options = {
      directory: root,
      clock: () => clock.now,
      staleLockMs: 30_000,
      lockTimeoutMs: 60,
    };
    const store = fileStore(options);
    const key = storeKey();
    await store.set(key, record(1), hour());
    const lockFile = join(shardDirectory(root, key), `${key}.lock`);
    writeFileSync(lockFile, '');
    assert.ok(
      (await thrown(() => store.compareAndSet(key, record(1), record(2), hour()))) instanceof
        StoreError,
    );
    // Locks age by the real time against their mtime, whatever the store's clock.
    const aged = new Date(Date.now() - 31_000);
    utimesSync(lockFile, aged, aged);
    assert.equal(await store.compareAndSet(key, record(1), record(2), hour()), true);
    assert.ok(!existsSync(lockFile));
    assert.deepEqual(await store.get(key), record(2));
    // A stale lock with nobody writing that record is removed by prune.
    writeFileSync(lockFile, '');
    utimesSync(lockFile, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await store.prune();
    assert.ok(!existsSync(lockFile));
  });

  it('a delete is never undone by a compare-and-set from another instance', async () => {
    const root = temporaryDirectory();
    const [first, second] = [fileStore({ directory: root }), fileStore({ directory: root })];
    for (let round = 0; round < 20; round++) {
      const key = storeKey();
      await first.set(key, record(round), hour());
      const [, written] = await Promise.all([
        first.delete(key),
        second.compareAndSet(key, record(round), record(round, 1), hour()),
      ]);
      const current = await first.get(key);
      // Either the write landed first and the delete removed it, or the write lost.
      assert.equal(current, undefined, `round ${round}: written=${written}`);
    }
  });
});

describe('fs store: per-user index', () => {
  it('keeps one marker per record under a hashed user directory, removed with the record', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root });
    const [a, b] = [storeKey(), storeKey()];
    await store.set(a, record(1), { ...hour(), userKey });
    await store.set(b, record(2), { ...hour(), userKey });
    const markers = listTree(join(root, 'users')).filter((path) => path.split('/').length === 4);
    assert.equal(markers.length, 2);
    assert.ok(!markers.some((path) => path.includes(userKey)), 'the user key is hashed');
    assert.deepEqual((await store.listByUser(userKey)).sort(), [a, b].sort());
    await store.delete(a);
    assert.deepEqual(await store.listByUser(userKey), [b]);
    assert.equal(listTree(join(root, 'users')).filter((p) => p.split('/').length === 4).length, 1);
    assert.equal(await store.deleteByUser(userKey), 1);
    assert.equal(await store.get(b), undefined);
  });

  it('a record rewritten for another user leaves the first user’s index; prune clears markers', async () => {
    const root = temporaryDirectory();
    const clock = { now: Date.now() };
    const store = fileStore({ directory: root, clock: () => clock.now });
    const other = 'other-0123456789abcdef';
    const key = storeKey();
    await store.set(key, record(1), { ...hour(), userKey });
    await store.set(key, record(2), { ...hour(), userKey: other });
    assert.deepEqual(await store.listByUser(userKey), []);
    assert.equal(await store.deleteByUser(userKey), 0);
    assert.deepEqual(await store.listByUser(other), [key]);
    clock.now += 60_000;
    await pruneLater(root, 60_000, clock.now);
    const markers = listTree(join(root, 'users')).filter((path) => path.split('/').length === 4);
    assert.equal(markers.length, 1, 'the stale marker is gone, the live one stays');
    assert.equal(listTree(join(root, 'users')).filter((p) => p.split('/').length === 3).length, 1);
  });
});

describe('fs store: a hard link to a record elsewhere', () => {
  it('does not let a stale compare-and-set win after the record was replaced', async () => {
    // A snapshot made with hard links (`cp -al`, rsnapshot) keeps a replaced record's inode
    // linked: the store must see that its path now names another file.
    for (let round = 0; round < 20; round++) {
      const root = temporaryDirectory();
      const stores = Array.from({ length: 4 }, () => fileStore({ directory: root }));
      const key = storeKey();
      await stores[0]?.set(key, record(1), hour());
      mkdirSync(join(root, 'snapshot'));
      linkSync(join(shardDirectory(root, key), key), join(root, 'snapshot', key));
      const wins = await Promise.all(
        stores.map((store, i) => store.compareAndSet(key, record(1), record(10 + i), hour())),
      );
      assert.equal(wins.filter(Boolean).length, 1, `round ${round}: ${wins}`);
      const winner = wins.indexOf(true);
      assert.deepEqual(await stores[0]?.get(key), record(10 + winner));
    }
  });
});

describe('fs store: prune of another instance next to writes of the same record', () => {
  // Each round starts prune and the writes together, shifted by 0 to 1 ms against each other;
  // whatever the interleaving, the guarantees must hold in every round.
  const ROUNDS = 150;
  const shifted = (round: number): Promise<void> =>
    new Promise((resolve) => {
      const until = performance.now() + (round % 40) * 0.025;
      const spin = (): void => {
        if (performance.now() >= until) resolve();
        else setImmediate(spin);
      };
      spin();
    });
  // One shard, so each prune walks a single directory.
  const keyOf = (round: number): string => `abcd${round.toString(16).padStart(60, '0')}`;
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: 30 }, (_, i) => (n + i) & 255);

  it('of two compare-and-set creates over an expired record, exactly one wins', async () => {
    const directory = temporaryDirectory();
    const app = fileStore({ directory });
    const pruner = fileStore({ directory });
    let doubleWins = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const key = keyOf(round);
      await app.set(key, bytes(round), { expiresAt: Date.now() - 1_000 });
      const live = { expiresAt: Date.now() + 60_000 };
      const [, first, second] = await Promise.all([
        pruner.prune(),
        shifted(round).then(() => app.compareAndSet(key, undefined, bytes(1), live)),
        shifted(round).then(() => app.compareAndSet(key, undefined, bytes(2), live)),
      ]);
      if (first && second) doubleWins++;
    }
    assert.equal(doubleWins, 0);
  });

  it('a deleted record stays deleted, and a rewritten one stays indexed', async () => {
    const directory = temporaryDirectory();
    const app = fileStore({ directory });
    const pruner = fileStore({ directory });
    const userKey = 'u'.repeat(16);
    let resurrected = 0;
    let unindexed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const key = keyOf(round);
      await app.set(key, bytes(round), { expiresAt: Date.now() - 1_000, userKey });
      await Promise.all([
        pruner.prune(),
        shifted(round).then(async () => {
          await app.set(key, bytes(round + 1), { expiresAt: Date.now() + 60_000, userKey });
          await app.delete(key);
        }),
      ]);
      if ((await app.get(key)) !== undefined) resurrected++;
      const other = keyOf(round + ROUNDS);
      await app.set(other, bytes(round), { expiresAt: Date.now() - 1_000, userKey });
      await Promise.all([
        pruner.prune(),
        shifted(round).then(() =>
          app.set(other, bytes(round + 2), { expiresAt: Date.now() + 60_000, userKey }),
        ),
      ]);
      if (!(await app.listByUser(userKey)).includes(other)) unindexed++;
      await app.delete(other);
    }
    assert.equal(resurrected, 0, 'records back after delete()');
    assert.equal(unindexed, 0, 'live records missing from listByUser');
  });
});

describe('fs store: two instances creating one absent record', () => {
  it('exactly one of two compare-and-set creates wins', async () => {
    const directory = temporaryDirectory();
    const [first, second] = [fileStore({ directory }), fileStore({ directory })];
    let doubleWins = 0;
    for (let round = 0; round < 50; round++) {
      const key = `ef${round.toString(16).padStart(62, '0')}`;
      const live = { expiresAt: Date.now() + 60_000 };
      const [a, b] = await Promise.all([
        first.compareAndSet(key, undefined, Uint8Array.of(1), live),
        second.compareAndSet(key, undefined, Uint8Array.of(2), live),
      ]);
      if (a && b) doubleWins++;
      assert.ok(a || b, 'one of them wins');
    }
    assert.equal(doubleWins, 0);
  });
});
