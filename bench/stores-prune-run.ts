/**
 * One `prune()` of `bench/stores.ts`, in its own process so that its peak memory is its own:
 * `node --import tsx bench/stores-prune-run.ts fs|sqlite|postgres <directory|file|table>`. Opens
 * the store on what the parent seeded, runs `prune()` once, and sends the parent a
 * `PruneResult` over IPC. The heap is sampled every 20 ms while the prune runs (the SQLite store
 * lets the event loop turn every 10 ms); the peak RSS is the kernel's high-water mark.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { fileStore } from '../dist/stores/fs.js';
import { postgresStore } from '../dist/stores/postgres.js';
import { sqliteStore } from '../dist/stores/sqlite.js';
import { POSTGRES } from './stores-config.ts';

/** What one prune measured. */
export interface PruneResult {
  removed: number;
  seconds: number;
  /** MiB: RSS just before the prune, its high-water mark after it, and the heap's. */
  rssBefore: number;
  rssPeak: number;
  heapBefore: number;
  heapPeak: number;
}

const MIB = 1024 * 1024;

/** The store's prune on `target`, and how to let go of what it opened. */
function open(
  kind: string,
  target: string,
): { prune: () => Promise<number>; close: () => unknown } {
  if (kind === 'fs') {
    const store = fileStore({ directory: target });
    return { prune: () => store.prune(), close: () => undefined };
  }
  if (kind === 'sqlite') {
    const database = new Database(target);
    database.pragma('journal_mode = WAL');
    database.pragma('busy_timeout = 5000');
    const store = sqliteStore({ database });
    return { prune: () => store.prune(), close: () => database.close() };
  }
  if (kind === 'postgres') {
    const pool = new pg.Pool({ ...POSTGRES, max: 2 });
    // A batch on a cold million-row table can take a while: well past the default 5 s.
    const store = postgresStore({ client: pool, table: target, timeoutMs: 120_000 });
    return { prune: () => store.prune(), close: () => pool.end() };
  }
  throw new Error(`unknown store ${kind}`);
}

async function main(): Promise<void> {
  const [kind, target] = process.argv.slice(2);
  if (kind === undefined || target === undefined) {
    throw new Error('usage: stores-prune-run.ts fs|sqlite|postgres <target>');
  }
  const store = open(kind, target);
  const rssBefore = process.memoryUsage().rss / MIB;
  const heapBefore = process.memoryUsage().heapUsed / MIB;
  let heapPeak = heapBefore;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed / MIB);
  }, 20);
  const started = performance.now();
  const removed = await store.prune();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed / MIB);
  // maxRSS is in KiB.
  const rssPeak = process.resourceUsage().maxRSS / 1024;
  await store.close();
  const result: PruneResult = { removed, seconds, rssBefore, rssPeak, heapBefore, heapPeak };
  process.send?.(result, () => process.exit(0));
}

await main();
