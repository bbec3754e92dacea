/** The file store's prune at scale: streaming over 20 000 expired files with bounded memory. */
import assert from 'node:assert/strict';
import { linkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileStore } from '../../src/stores/fs.ts';
import { encodeRecordFile } from '../../src/stores/fs-layout.ts';
import { listTree, shardDirectory, storeKey, temporaryDirectory } from './fs-support.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const EXPIRED = 20_000;
const SHARDS = 16;

it(`prune removes ${EXPIRED} expired files shard by shard, with memory that does not grow`, async () => {
  const root = temporaryDirectory();
  const now = Date.now();
  const store = fileStore({ directory: root, clock: () => now });
  const record = new Uint8Array(200).fill(7);
  // One record file, hard-linked under 20 000 names: each name is a record file to prune, and a
  // link is far cheaper to make than a file (this test is about the walk, not about the disk).
  const source = join(temporaryDirectory(), 'expired');
  writeFileSync(source, encodeRecordFile(record, now - 1, undefined));
  const shards = Array.from({ length: SHARDS }, (_, i) => `00${i.toString(16).padStart(2, '0')}`);
  const directories = shards.map((prefix) => shardDirectory(root, prefix));
  for (let i = 0; i < EXPIRED; i++) {
    const key = storeKey(shards[i % SHARDS]);
    linkSync(source, join(directories[i % SHARDS] as string, key));
  }
  const live = Array.from({ length: 50 }, () => storeKey());
  for (const key of live) await store.set(key, record, { expiresAt: now + 60_000 });

  collectGarbage();
  const baseline = process.memoryUsage().heapUsed;
  const reports: { removed: number; heap: number }[] = [];
  const removed = await store.prune({
    onProgress({ removed }) {
      collectGarbage();
      reports.push({ removed, heap: process.memoryUsage().heapUsed - baseline });
    },
  });

  assert.equal(removed, EXPIRED);
  assert.ok(reports.length >= SHARDS, 'progress is reported shard by shard');
  const counts = reports.map((report) => report.removed);
  assert.deepEqual(
    counts,
    [...counts].sort((a, b) => a - b),
    'progress only grows',
  );
  assert.ok(
    counts.some((count) => count > 0 && count < EXPIRED),
    'progress comes before the end',
  );
  // Holding all the names alone would take a few MB; streaming keeps the growth far below.
  const peak = Math.max(...reports.map((report) => report.heap));
  assert.ok(peak < 4 * 1024 * 1024, `heap grew by ${(peak / 1024 / 1024).toFixed(1)} MB`);
  const files = listTree(join(root, 'records')).filter((path) => /[0-9a-f]{64}$/.test(path));
  assert.deepEqual(files.map((path) => path.slice(-64)).sort(), [...live].sort());
  assert.equal(await store.prune(), 0);
});

it('several processes pruning at once count each removed record exactly once', async () => {
  const root = temporaryDirectory();
  const now = Date.now();
  const source = join(temporaryDirectory(), 'expired');
  writeFileSync(source, encodeRecordFile(new Uint8Array(64), now - 1, undefined));
  for (let i = 0; i < 600; i++) {
    const key = storeKey();
    linkSync(source, join(shardDirectory(root, key), key));
  }
  const stores = [1, 2, 3].map(() => fileStore({ directory: root, clock: () => now }));
  const counts = await Promise.all(stores.map((store) => store.prune()));
  assert.equal(
    counts.reduce((sum, count) => sum + count, 0),
    600,
    `counts ${counts}`,
  );
  const left = listTree(join(root, 'records')).filter((path) => /[0-9a-f]{64}$/.test(path));
  assert.deepEqual(left, []);
});
