/**
 * `stats` of the file store: a streaming walk over the record shards, like `prune`, that counts
 * record files, the expired ones and their sizes. Read-only: it takes no lock and tolerates files
 * that vanish under it. Internal to `pithos/fs`.
 *
 * @module
 */
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreStats } from '../core/store.ts';
import { isStoreKey } from '../core/token.ts';
import { errorCode, isMissing } from './fs-io.ts';
import { isLive, type Layout, readHeader } from './fs-layout.ts';

const SHARD = /^[0-9a-f]{2}$/;
const BATCH = 32;

/** The names in `path`, or none when it is gone (or not a directory). */
async function* entries(path: string): AsyncGenerator<string> {
  const directory = await opendir(path).catch((error: unknown) => {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') return undefined;
    throw error;
  });
  if (directory !== undefined) for await (const entry of directory) yield entry.name;
}

/** Adds one record file to `totals`; a file that is not a record counts as expired, as in `prune`. */
async function count(path: string, now: number, totals: Required<StoreStats>): Promise<void> {
  const [header, info] = await Promise.all([readHeader(path), stat(path).catch(() => undefined)]);
  if (header === null || info === undefined) return; // removed since it was listed
  totals.records++;
  totals.bytes += info.size;
  if (!isLive(header, now)) totals.expired++;
}

/** Counts the records of the store at `layout`, their bytes (file sizes) and the expired ones. */
export async function fileStats(layout: Layout, now: number): Promise<Required<StoreStats>> {
  const totals = { records: 0, expired: 0, bytes: 0 };
  for await (const upper of entries(layout.records)) {
    if (!SHARD.test(upper)) continue;
    for await (const lower of entries(join(layout.records, upper))) {
      if (!SHARD.test(lower)) continue;
      const shard = join(layout.records, upper, lower);
      let batch: Promise<void>[] = [];
      for await (const name of entries(shard)) {
        if (isStoreKey(name)) batch.push(count(join(shard, name), now, totals));
        if (batch.length === BATCH) {
          await Promise.all(batch);
          batch = [];
        }
      }
      await Promise.all(batch);
    }
  }
  return totals;
}
