/**
 * The file store's write path: the lock file doubles as the temporary file, a crashed writer's
 * lock is never read and is broken once stale, records larger than one read, and a
 * compare-and-set whose record is replaced while it waits for the lock.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  readdirSync,
  renameSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { link, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../../src/core/errors.ts';
import { fileStore } from '../../src/stores/fs.ts';
import { encodeRecordFile } from '../../src/stores/fs-layout.ts';
import { commit, isSameFile, LockLost, lock, release } from '../../src/stores/fs-lock.ts';
import { shardDirectory, storeKey, temporaryDirectory, thrown } from './fs-support.ts';

const record = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const hour = (): { expiresAt: number } => ({ expiresAt: Date.now() + 3_600_000 });

/** Replaces the record file of `key` as another process's writer would: a new file, renamed. */
function replaceRecord(root: string, key: string, bytes: Uint8Array): void {
  const shard = shardDirectory(root, key);
  writeFileSync(
    join(shard, 'other-writer'),
    encodeRecordFile(bytes, Date.now() + 3_600_000, undefined),
  );
  renameSync(join(shard, 'other-writer'), join(shard, key));
}

describe('fs store: writes through the lock file', () => {
  it('a crashed writer’s lock file holds half a record: never read, broken once stale, pruned', async () => {
    const root = temporaryDirectory();
    const clock = { now: Date.now() };
    const store = fileStore({
      directory: root,
      clock: () => clock.now,
      staleLockMs: 30_000,
      lockTimeoutMs: 60,
    });
    const key = storeKey();
    await store.set(key, record(1), hour());
    const lockFile = join(shardDirectory(root, key), `${key}.lock`);
    const half = encodeRecordFile(record(2, 2, 2, 2), clock.now + 3_600_000, undefined);
    writeFileSync(lockFile, half.subarray(0, 12));
    assert.deepEqual(await store.get(key), record(1));
    assert.ok((await thrown(() => store.set(key, record(3), hour()))) instanceof StoreError);
    // Locks age by the real time against their mtime, whatever the store's clock.
    const aged = new Date(Date.now() - 31_000);
    utimesSync(lockFile, aged, aged);
    assert.equal(await store.compareAndSet(key, record(1), record(3), hour()), true);
    assert.deepEqual(await store.get(key), record(3));
    assert.ok(!existsSync(lockFile));
    writeFileSync(lockFile, half.subarray(0, 12));
    utimesSync(lockFile, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await store.prune();
    assert.deepEqual(readdirSync(shardDirectory(root, key)), [key]);
    assert.deepEqual(await store.get(key), record(3));
  });

  it('reads records larger than the first 4 KiB read, whole', async () => {
    const store = fileStore({ directory: temporaryDirectory() });
    // 4086 bytes make a file of exactly 4096 (a 10-byte header): the first read fills its buffer.
    for (const size of [4085, 4086, 4087, 100_000]) {
      const key = storeKey();
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7) % 256);
      await store.set(key, bytes, hour());
      assert.deepEqual(await store.get(key), bytes, `${size} bytes`);
      assert.equal(await store.compareAndSet(key, bytes, record(1), hour()), true);
    }
  });

  it('a compare-and-set whose record is replaced while it waits for the lock compares again', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root });
    const cases = [
      { replacement: record(1), isWinner: true }, // the same bytes, in a new file
      { replacement: record(9), isWinner: false },
      { replacement: undefined, isWinner: false }, // removed
    ];
    for (const { replacement, isWinner } of cases) {
      const key = storeKey();
      await store.set(key, record(1), hour());
      // Another process holds the lock: the compare-and-set compares, then waits for it.
      const lockFile = join(shardDirectory(root, key), `${key}.lock`);
      writeFileSync(lockFile, '');
      const pending = store.compareAndSet(key, record(1), record(2), hour());
      await sleep(50);
      if (replacement === undefined) unlinkSync(join(shardDirectory(root, key), key));
      else replaceRecord(root, key, replacement);
      unlinkSync(lockFile);
      assert.equal(await pending, isWinner, String(replacement));
      assert.deepEqual(await store.get(key), isWinner ? record(2) : replacement);
    }
  });

  it('a store clock far from the real time neither breaks a lock still held nor keeps a dead one', async () => {
    const root = temporaryDirectory();
    const key = storeKey();
    const options = { staleLockMs: 30_000, lockTimeoutMs: 60 };
    const ahead = fileStore({ directory: root, ...options, clock: () => Date.now() + 3_600_000 });
    await ahead.set(key, record(1), { expiresAt: Date.now() + 7_200_000 });
    const lockFile = join(shardDirectory(root, key), `${key}.lock`);
    const locks = { clock: Date.now, fileClock: Date.now, staleMs: 30_000, timeoutMs: 1000 };
    const held = await lock(lockFile, locks);
    // An hour ahead, a lock taken just now is not stale: the write waits and fails, it does not
    // break in.
    const error = await thrown(() =>
      ahead.compareAndSet(key, record(1), record(2), { expiresAt: Date.now() + 7_200_000 }),
    );
    assert.ok(error instanceof StoreError, String(error));
    assert.ok(existsSync(lockFile), 'the holder keeps its lock');
    await release(held);
    // A day behind, a lock a dead writer left an hour ago is stale all the same.
    const behind = fileStore({ directory: root, ...options, clock: () => Date.now() - 86_400_000 });
    writeFileSync(lockFile, '');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(lockFile, old, old);
    await behind.set(key, record(3), { expiresAt: Date.now() + 3_600_000 });
    assert.deepEqual(await behind.get(key), record(3));
  });

  it('a breaker tells a fresh lock from the stale one it saw, even when the inode number is reused', () => {
    const stale = { dev: 2049n, ino: 5_350_040n, mtimeNs: 1_795_000_000_000_000_000n };
    assert.equal(isSameFile(stale, { ...stale }), true);
    // Another breaker deleted the stale lock, and the lock taken next got its inode number back.
    const fresh = { ...stale, mtimeNs: stale.mtimeNs + 60_000_000_000n };
    assert.equal(isSameFile(fresh, stale), false);
    assert.equal(isSameFile({ ...stale, ino: stale.ino + 1n }, stale), false);
    assert.equal(isSameFile({ ...stale, dev: stale.dev + 1n }, stale), false);
  });

  it('a write whose lock a breaker moved aside for a moment lands once it is linked back', async () => {
    const directory = temporaryDirectory();
    const locks = { clock: Date.now, fileClock: Date.now, staleMs: 30_000, timeoutMs: 1000 };
    const lockPath = join(directory, 'record.lock');
    const target = join(directory, 'record');
    const held = await lock(lockPath, locks);
    // A breaker checking the lock: moved aside, found in use, linked back a little later.
    const aside = `${lockPath}.check`;
    await rename(lockPath, aside);
    const back = sleep(2).then(async () => {
      await link(aside, lockPath);
      await unlink(aside);
    });
    await commit(held, target, Uint8Array.of(7, 7), { sync: false, staleMs: 30_000 });
    await back;
    assert.deepEqual([...(await readFile(target))], [7, 7]);
    await assert.rejects(stat(lockPath), { code: 'ENOENT' }, 'the lock went with the rename');
  });

  it('a write whose lock was broken while it took longer than staleLockMs does not land', async () => {
    const root = temporaryDirectory();
    const store = fileStore({ directory: root });
    const key = storeKey();
    await store.set(key, record(1), hour());
    const shard = shardDirectory(root, key);
    const lockFile = join(shard, `${key}.lock`);
    const options = { clock: Date.now, fileClock: Date.now, staleMs: 1000, timeoutMs: 1000 };
    const held = await lock(lockFile, options);
    // A breaker judged it stale and moved it aside; a new writer took the lock since.
    renameSync(lockFile, join(shard, 'broken-aside'));
    writeFileSync(lockFile, 'the new holder’s lock');
    const late = { ...held, since: performance.now() - 2000 };
    const bytes = encodeRecordFile(record(2), Date.now() + 3_600_000, undefined);
    const error = await thrown(() =>
      commit(late, join(shard, key), bytes, { sync: true, staleMs: 1000 }),
    );
    assert.ok(error instanceof LockLost, String(error));
    assert.ok(existsSync(lockFile), 'the new holder’s lock stays');
    assert.deepEqual(await store.get(key), record(1));
  });
});
