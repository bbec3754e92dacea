/**
 * The prune part of `bench/stores.ts`: seeds expired records by the cheapest honest path, runs
 * one `prune()` in its own process (`bench/stores-prune-run.ts`) and removes what it seeded.
 *
 * - fs: record files written straight in the store's on-disk format (`fs-layout.ts`), in their
 *   shard directories. `links`: one file per upper shard, hard-linked under every record name of
 *   that shard (as `test/stores/fs-prune.test.ts` does), so a million names cost seconds instead
 *   of minutes, but every name shares one of 256 inodes. `files`: one real file per record.
 * - sqlite: one transaction of prepared inserts through better-sqlite3, in a WAL database file.
 * - postgres: one `INSERT … SELECT … FROM generate_series`, then `VACUUM ANALYZE`, as a table that
 *   has lived would be.
 *
 * Each store also gets `LIVE` records that must survive the prune.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { encodeRecordFile } from '../dist/stores/fs-layout.js';
import { postgresStore } from '../dist/stores/postgres.js';
import { sqliteStore } from '../dist/stores/sqlite.js';
import { PG_PRUNE_TABLE, POSTGRES } from './stores-config.ts';
import type { PruneResult } from './stores-prune-run.ts';

/** Live records seeded next to the expired ones; prune must leave them. */
const LIVE = 1_000;
const HOUR = 3_600_000;

/** One prune case: what was seeded, how long seeding took, and what the prune measured. */
export interface PruneCase extends PruneResult {
  store: string;
  expired: number;
  seedSeconds: number;
}

/** A store key (64 hex digits) from a label, spread evenly over the shards. */
function keyOf(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

/** Runs `bench/stores-prune-run.ts` on the seeded store and returns what it measured. */
function runPrune(kind: string, target: string): Promise<PruneResult> {
  const script = fileURLToPath(new URL('./stores-prune-run.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, kind, target], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (result) => resolve(result as PruneResult));
    child.once('exit', (code) => reject(new Error(`prune of ${kind} exited (${code})`)));
  });
}

/** Seeds `expired` record files (hard links or real files) and `LIVE` live ones, then prunes. */
export async function pruneFiles(
  expired: number,
  recordSize: number,
  how: 'links' | 'files',
): Promise<PruneCase> {
  const root = mkdtempSync(join(tmpdir(), 'pithos-bench-prune-'));
  try {
    const started = performance.now();
    const record = new Uint8Array(recordSize).fill(7);
    const old = encodeRecordFile(record, Date.now() - HOUR, undefined);
    const sources = join(root, 'sources');
    mkdirSync(sources);
    const made = new Set<string>();
    const write = (key: string, bytes: Uint8Array, link: boolean): void => {
      const directory = join(root, 'store', 'records', key.slice(0, 2), key.slice(2, 4));
      if (!made.has(directory)) {
        mkdirSync(directory, { recursive: true, mode: 0o700 });
        made.add(directory);
      }
      const source = join(sources, key.slice(0, 2));
      if (!link) writeFileSync(join(directory, key), bytes, { mode: 0o600 });
      else linkSync(source, join(directory, key));
    };
    if (how === 'links') {
      // ext4 allows 65 000 links per inode: one source file per upper shard keeps far below.
      for (let i = 0; i < 256; i++) {
        writeFileSync(join(sources, i.toString(16).padStart(2, '0')), old, { mode: 0o600 });
      }
    }
    for (let i = 0; i < expired; i++) write(keyOf(`expired ${i}`), old, how === 'links');
    const fresh = encodeRecordFile(record, Date.now() + HOUR, undefined);
    for (let i = 0; i < LIVE; i++) write(keyOf(`live ${i}`), fresh, false);
    const seedSeconds = seconds(started);
    const result = await runPrune('fs', join(root, 'store'));
    return { store: `fs (${how})`, expired, seedSeconds, ...result };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Seeds a SQLite database file with one transaction of prepared inserts, then prunes. */
export async function pruneSQLite(expired: number, recordSize: number): Promise<PruneCase> {
  const root = mkdtempSync(join(tmpdir(), 'pithos-bench-prune-'));
  try {
    const file = join(root, 'sessions.db');
    const started = performance.now();
    const database = new Database(file);
    database.pragma('journal_mode = WAL');
    await sqliteStore({ database }).createSchema();
    const insert = database.prepare(
      'INSERT INTO pithos_sessions (store_key, record, expires_at, user_key, version) ' +
        'VALUES (?, ?, ?, NULL, 1)',
    );
    const record = Buffer.alloc(recordSize, 7);
    database.transaction(() => {
      const now = Date.now();
      for (let i = 0; i < expired; i++) insert.run(keyOf(`expired ${i}`), record, now - HOUR);
      for (let i = 0; i < LIVE; i++) insert.run(keyOf(`live ${i}`), record, now + HOUR);
    })();
    database.close();
    const seedSeconds = seconds(started);
    return { store: 'sqlite', expired, seedSeconds, ...(await runPrune('sqlite', file)) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Seeds a PostgreSQL table with one `INSERT … SELECT generate_series`, then prunes. */
export async function prunePostgres(expired: number, recordSize: number): Promise<PruneCase> {
  const pool = new pg.Pool({ ...POSTGRES, max: 1 });
  try {
    const started = performance.now();
    await pool.query(`DROP TABLE IF EXISTS ${PG_PRUNE_TABLE}`);
    await postgresStore({ client: pool, table: PG_PRUNE_TABLE }).createSchema();
    const insert =
      `INSERT INTO ${PG_PRUNE_TABLE} (store_key, record, expires_at, user_key, version) ` +
      "SELECT encode(sha256(convert_to($4 || ' ' || i, 'UTF8')), 'hex'), $1, $2, NULL, 1 " +
      'FROM generate_series(1, $3::int) AS i';
    const record = Buffer.alloc(recordSize, 7);
    const now = Date.now();
    await pool.query(insert, [record, now - HOUR, expired, 'expired']);
    await pool.query(insert, [record, now + HOUR, LIVE, 'live']);
    await pool.query(`VACUUM ANALYZE ${PG_PRUNE_TABLE}`);
    const seedSeconds = seconds(started);
    const result = await runPrune('postgres', PG_PRUNE_TABLE);
    const { rows } = await pool.query(`SELECT COUNT(*)::int AS left FROM ${PG_PRUNE_TABLE}`);
    if (rows[0]?.left !== LIVE)
      throw new Error(`postgres: ${rows[0]?.left} rows left, not ${LIVE}`);
    return { store: 'postgres', expired, seedSeconds, ...result };
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${PG_PRUNE_TABLE}`).catch(() => undefined);
    await pool.end();
  }
}
