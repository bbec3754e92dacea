/**
 * The stores' speed, in one run (`npm run bench:stores`):
 *
 * 1. Redis and PostgreSQL: a `node:http` server doing one load + change + commit per request
 *    through pithos (node adapter, 200 B of data), next to a floor server doing only the raw
 *    GET + SET (Redis) or SELECT + upsert (PostgreSQL) of a record of the same size with the same
 *    client library, keyed by the cookie's value, with no crypto. Then a read-mostly load
 *    (`/read`: sessions loaded, not changed), where pithos skips the write and the floor does
 *    the GET or SELECT alone. The `-crypto` floors add to the raw commands the irreducible crypto
 *    and JSON work of a cycle (`recordWork` in `bench/floor.ts`) on a real sealed record: the
 *    share of the floor they reach is the most any store that encrypts sessions can reach. The
 *    `-cas-crypto` floors also write by compare-and-set, as issue 3 requires of every store (a
 *    Lua script over GET + SET on Redis, an `UPDATE … WHERE version =` on PostgreSQL): the share
 *    they reach is the most any store meeting the requirements can reach.
 *    The `-prepared` PostgreSQL servers send named prepared statements (pithos's `prepare: true`,
 *    and the floor's same two statements named). The `required-` servers do, on the
 *    compare-and-set floors' commands, the floor's work plus only what issue 2 requires of every
 *    cycle (`requiredRequestWork`): the share they reach is the most any implementation of
 *    issues 2 and 3 can reach.
 * 2. Filesystem: pithos's fs store behind Express (`pithos/express`) next to session-file-store
 *    behind express-session, same app and handler, same data; `floor-fs` (atomic writes of a
 *    record, nothing else) and `required-fs` (the same with the required work) behind Express too.
 * 3. `prune()` over a million expired records on the fs, SQLite and PostgreSQL stores: time and
 *    peak memory, each prune in its own process.
 *
 * Servers run in their own processes (`bench/stores-server.ts`), pinned to CPU 1 with this
 * process (autocannon, 100 connections, each server's own pool of 100 sessions, one per connection) on
 * CPU 0. Traffic goes to 127.0.0.1 only, for a fixed time per case; rounds interleave every case.
 * Everything the benchmark creates (keys, tables, directories) is removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';
import { postgresStore } from '../src/stores/postgres.ts';
import { describeMachine, median, printTable } from './report.ts';
import {
  PG_FLOOR_TABLE,
  PG_TABLE,
  POSTGRES,
  REDIS_FLOOR_PREFIX,
  REDIS_PREFIX,
  REDIS_URL,
} from './stores-config.ts';
import { sealedRecordSize } from './stores-handlers.ts';
import {
  CONNECTIONS,
  load,
  type Measurement,
  pinClient,
  pinned,
  SESSIONS,
  type StoreServer,
  serverStats,
  startServer,
  stopServer,
  unpinClient,
} from './stores-load.ts';
import { type PruneCase, pruneFiles, prunePostgres, pruneSQLite } from './stores-prune.ts';

const SECONDS = Number(process.env.BENCH_STORES_SECONDS ?? 8);
const WARMUP_SECONDS = Number(process.env.BENCH_STORES_WARMUP ?? 2);
const ROUNDS = Number(process.env.BENCH_STORES_ROUNDS ?? 3);
/** Expired records for the SQL prunes. */
const PRUNE_RECORDS = Number(process.env.BENCH_PRUNE_RECORDS ?? 1_000_000);
/**
 * Expired records for the fs prune, and how they are made: real files by default (about 80 µs
 * each to write here, 4 KiB of disk each), or hard links of a few files with
 * `BENCH_PRUNE_FS_HOW=links` (faster to seed, but every name shares one of 256 inodes).
 */
const PRUNE_FS_RECORDS = Number(process.env.BENCH_PRUNE_FS_RECORDS ?? PRUNE_RECORDS);
const PRUNE_FS_HOW = process.env.BENCH_PRUNE_FS_HOW === 'links' ? 'links' : 'files';
/** `http`, `prune`, or both (default). */
const PARTS = (process.env.BENCH_STORES_PARTS ?? 'http,prune').split(',');

/** One measured case: a server and the path its requests go to. */
interface Case {
  mode: string;
  path: '/' | '/read';
  runs: Measurement[];
}

const ALL_MODES = [
  'pithos-redis',
  'floor-redis',
  'floor-redis-crypto',
  'floor-redis-cas-crypto',
  'required-redis',
  'pithos-postgres',
  'floor-postgres',
  'floor-postgres-crypto',
  'floor-postgres-cas-crypto',
  'required-postgres',
  'pithos-postgres-prepared',
  'floor-postgres-prepared',
  'pithos-fs',
  'pithos-fs-nosync',
  'floor-fs',
  'required-fs',
  'session-file-store',
];
/**
 * The servers of the HTTP part: every mode by default, or the modes named in
 * `BENCH_STORES_MODES` (comma-separated, e.g. `pithos-fs,pithos-fs-nosync,session-file-store`).
 */
const MODES = process.env.BENCH_STORES_MODES
  ? ALL_MODES.filter((mode) => process.env.BENCH_STORES_MODES?.split(',').includes(mode))
  : ALL_MODES;
const usesRedis = MODES.some((mode) => mode.includes('redis'));
const usesPostgres = MODES.some((mode) => mode.includes('postgres'));

/** The 1-minute load average, sampled every 5 s during the run. */
const loads: number[] = [];
const loadSampler = setInterval(() => loads.push(loadavg()[0] as number), 5_000);

async function cleanRedis(): Promise<void> {
  const client = await createClient({ url: REDIS_URL }).connect();
  for (const prefix of [REDIS_PREFIX, REDIS_FLOOR_PREFIX]) {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  }
  await client.quit();
}

/** Drops the benchmark's tables, and creates them again (pithos's DDL for both) when `create`. */
async function resetTables(create: boolean): Promise<void> {
  const pool = new pg.Pool({ ...POSTGRES, max: 1 });
  try {
    for (const table of [PG_TABLE, PG_FLOOR_TABLE]) {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      if (create) await postgresStore({ client: pool, table }).createSchema();
    }
  } finally {
    await pool.end();
  }
}

function casesFor(): Case[] {
  const cases: Case[] = [];
  for (const mode of MODES) {
    cases.push({ mode, path: '/', runs: [] });
    if (/redis|postgres/.test(mode)) cases.push({ mode, path: '/read', runs: [] });
  }
  return cases;
}

async function benchHTTP(): Promise<void> {
  if (usesRedis) await cleanRedis();
  if (usesPostgres) await resetTables(true);
  const directories = new Map<string, string>();
  const servers = new Map<string, StoreServer>();
  try {
    for (const mode of MODES) {
      const directory = /fs|file/.test(mode)
        ? mkdtempSync(join(tmpdir(), `pithos-bench-${mode}-`))
        : undefined;
      if (directory !== undefined) directories.set(mode, directory);
      servers.set(mode, await startServer(mode, directory));
    }
    const cases = casesFor();
    const serverOf = (entry: Case): StoreServer => servers.get(entry.mode) as StoreServer;
    for (const entry of cases) await load(serverOf(entry), entry.path, WARMUP_SECONDS);
    // Rounds interleave every case, so drift of the shared machine touches all of them alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const entry of cases) entry.runs.push(await load(serverOf(entry), entry.path, SECONDS));
    }
    const created = new Map<string, number>();
    for (const [mode, server] of servers) created.set(mode, (await serverStats(server)).created);
    const recordSize = [...servers.values()][0]?.recordSize ?? 0;
    reportHTTP(cases, created, recordSize);
  } finally {
    for (const server of servers.values()) stopServer(server);
    for (const directory of directories.values())
      rmSync(directory, { recursive: true, force: true });
    if (usesRedis) await cleanRedis();
    if (usesPostgres) await resetTables(false);
  }
}

function reportHTTP(cases: Case[], created: Map<string, number>, recordSize: number): void {
  const rows: string[][] = [];
  for (const entry of cases) {
    for (const [index, run] of entry.runs.entries()) {
      rows.push([
        entry.mode,
        entry.path === '/' ? 'change' : 'read',
        String(index + 1),
        run.rps.toFixed(0),
        run.serverCPU.toFixed(1),
        `${(run.serverLoad * 100).toFixed(0)}%`,
        run.writes.toFixed(2),
        `${run.p50} / ${run.p99}`,
        String(run.failures),
      ]);
    }
  }
  printTable(
    [
      'server',
      'load',
      'round',
      'req/s',
      'server µs CPU/req',
      'server CPU',
      'writes/req',
      'latency p50 / p99 ms',
      'failed',
    ],
    rows,
  );
  const find = (mode: string, path: '/' | '/read'): Case =>
    cases.find((entry) => entry.mode === mode && entry.path === path) as Case;
  const rps = (mode: string, path: '/' | '/read' = '/'): number =>
    median(find(mode, path).runs.map((run) => run.rps));
  const cpu = (mode: string, path: '/' | '/read' = '/'): number =>
    median(find(mode, path).runs.map((run) => run.serverCPU));
  const compare = (
    label: string,
    [mode, path]: [string, '/' | '/read'],
    [baseMode, basePath]: [string, '/' | '/read'],
    target?: number,
  ): string[] => {
    if (!MODES.includes(mode) || !MODES.includes(baseMode)) return [];
    const ratio = rps(mode, path) / rps(baseMode, basePath);
    const capacity = cpu(baseMode, basePath) / cpu(mode, path);
    const verdict =
      target === undefined ? '' : `≥ ${target}: ${ratio >= target ? 'met' : 'MISSED'}`;
    return [
      label,
      rps(mode, path).toFixed(0),
      rps(baseMode, basePath).toFixed(0),
      `${ratio.toFixed(2)}×`,
      `${capacity.toFixed(2)}×`,
      verdict,
    ];
  };
  console.log();
  printTable(
    ['comparison', 'pithos req/s', 'baseline req/s', 'ratio', 'by CPU/req', 'target'],
    [
      compare(
        'redis change: pithos / floor GET+SET',
        ['pithos-redis', '/'],
        ['floor-redis', '/'],
        0.85,
      ),
      compare(
        'redis change: floor GET+SET with crypto / without (the most any encrypted store reaches)',
        ['floor-redis-crypto', '/'],
        ['floor-redis', '/'],
      ),
      compare(
        'redis change: floor GET+compare-and-set with crypto / floor GET+SET (the most a store meeting issue 3 reaches)',
        ['floor-redis-cas-crypto', '/'],
        ['floor-redis', '/'],
      ),
      compare(
        'redis change: required / floor GET+SET (the most an implementation of issues 2 and 3 reaches)',
        ['required-redis', '/'],
        ['floor-redis', '/'],
      ),
      compare('redis change: pithos / required', ['pithos-redis', '/'], ['required-redis', '/']),
      compare(
        'redis change: pithos / floor GET+compare-and-set with crypto',
        ['pithos-redis', '/'],
        ['floor-redis-cas-crypto', '/'],
      ),
      compare(
        'redis change: pithos / floor GET+SET with crypto',
        ['pithos-redis', '/'],
        ['floor-redis-crypto', '/'],
      ),
      compare(
        'redis read: pithos / floor GET+SET',
        ['pithos-redis', '/read'],
        ['floor-redis', '/'],
        1,
      ),
      compare(
        'redis read: required / floor GET+SET (the most an implementation of issues 2 and 3 reaches)',
        ['required-redis', '/read'],
        ['floor-redis', '/'],
      ),
      compare(
        'redis read: pithos / floor GET',
        ['pithos-redis', '/read'],
        ['floor-redis', '/read'],
      ),
      compare(
        'postgres change: pithos / floor SELECT+upsert',
        ['pithos-postgres', '/'],
        ['floor-postgres', '/'],
        0.85,
      ),
      compare(
        'postgres change: floor SELECT+upsert with crypto / without (the most any encrypted store reaches)',
        ['floor-postgres-crypto', '/'],
        ['floor-postgres', '/'],
      ),
      compare(
        'postgres change: floor SELECT+compare-and-set with crypto / floor SELECT+upsert (the most a store meeting issue 3 reaches)',
        ['floor-postgres-cas-crypto', '/'],
        ['floor-postgres', '/'],
      ),
      compare(
        'postgres change: required / floor SELECT+upsert (the most an implementation of issues 2 and 3 reaches)',
        ['required-postgres', '/'],
        ['floor-postgres', '/'],
      ),
      compare(
        'postgres change: pithos / required',
        ['pithos-postgres', '/'],
        ['required-postgres', '/'],
      ),
      compare(
        'postgres change: pithos / floor SELECT+compare-and-set with crypto',
        ['pithos-postgres', '/'],
        ['floor-postgres-cas-crypto', '/'],
      ),
      compare(
        'postgres change: pithos / floor SELECT+upsert with crypto',
        ['pithos-postgres', '/'],
        ['floor-postgres-crypto', '/'],
      ),
      compare(
        'postgres change, prepared statements: pithos / floor SELECT+upsert',
        ['pithos-postgres-prepared', '/'],
        ['floor-postgres-prepared', '/'],
      ),
      compare(
        'postgres change: pithos with prepare: true / without',
        ['pithos-postgres-prepared', '/'],
        ['pithos-postgres', '/'],
      ),
      compare(
        'postgres read: pithos / floor SELECT+upsert',
        ['pithos-postgres', '/read'],
        ['floor-postgres', '/'],
        1,
      ),
      compare(
        'postgres read: required / floor SELECT+upsert (the most an implementation of issues 2 and 3 reaches)',
        ['required-postgres', '/read'],
        ['floor-postgres', '/'],
      ),
      compare(
        'postgres read: pithos / floor SELECT',
        ['pithos-postgres', '/read'],
        ['floor-postgres', '/read'],
      ),
      compare(
        'fs: pithos (sync) / session-file-store',
        ['pithos-fs', '/'],
        ['session-file-store', '/'],
        3,
      ),
      compare(
        'fs: pithos (sync: false) / session-file-store',
        ['pithos-fs-nosync', '/'],
        ['session-file-store', '/'],
      ),
      compare(
        'fs: floor (atomic writes, no crypto) / session-file-store',
        ['floor-fs', '/'],
        ['session-file-store', '/'],
      ),
      compare(
        'fs: required / session-file-store (the most an implementation of issues 2 and 3 reaches)',
        ['required-fs', '/'],
        ['session-file-store', '/'],
      ),
      compare('fs: pithos (sync) / required', ['pithos-fs', '/'], ['required-fs', '/']),
    ].filter((row) => row.length > 0),
  );
  const pools = [...created].map(([mode, count]) => `${mode} ${count}`).join(', ');
  console.log(
    `\nsealed record: ${recordSize} B (the floors' record size); sessions created per server ` +
      `(${SESSIONS} expected, none during the runs): ${pools}.`,
  );
  console.log(
    '"by CPU/req" is baseline CPU per request ÷ pithos CPU per request (server process only). ' +
      `${CONNECTIONS} keep-alive connections, ${SECONDS} s per case, ${ROUNDS} rounds interleaved, ` +
      `${WARMUP_SECONDS} s warm-up each; ${pinned ? 'servers on CPU 1, client on CPU 0' : 'not pinned'}.\n`,
  );
}

async function benchPrune(recordSize: number): Promise<void> {
  const results: PruneCase[] = [];
  const run = async (label: string, prune: () => Promise<PruneCase>): Promise<void> => {
    console.log(`prune: ${label}…`);
    const result = await prune();
    if (result.removed !== result.expired) {
      throw new Error(`${result.store}: removed ${result.removed} of ${result.expired}`);
    }
    results.push(result);
  };
  await run(`fs, ${PRUNE_FS_RECORDS} ${PRUNE_FS_HOW}`, () =>
    pruneFiles(PRUNE_FS_RECORDS, recordSize, PRUNE_FS_HOW),
  );
  await run('sqlite', () => pruneSQLite(PRUNE_RECORDS, recordSize));
  await run('postgres', () => prunePostgres(PRUNE_RECORDS, recordSize));
  const mib = (value: number): string => value.toFixed(0);
  console.log();
  printTable(
    [
      'store',
      'expired',
      'seed s',
      'prune s',
      'records/s',
      'RSS before → peak MiB',
      'heap before → peak MiB',
    ],
    results.map((result) => [
      result.store,
      String(result.expired),
      result.seedSeconds.toFixed(1),
      result.seconds.toFixed(1),
      (result.removed / result.seconds).toFixed(0),
      `${mib(result.rssBefore)} → ${mib(result.rssPeak)}`,
      `${mib(result.heapBefore)} → ${mib(result.heapPeak)}`,
    ]),
  );
  console.log(
    '\nEach prune ran once, in its own process, after 1000 live records were seeded next to the ' +
      'expired ones; peak RSS is the process high-water mark (startup included), peak heap is ' +
      'sampled every 20 ms.\n',
  );
}

async function main(): Promise<void> {
  pinClient();
  console.log(`start: ${describeMachine()}\n`);
  try {
    if (PARTS.includes('http')) await benchHTTP();
    // The prune processes get both CPUs: the fs store's walk runs on libuv's thread pool.
    unpinClient();
    if (PARTS.includes('prune')) await benchPrune(await sealedRecordSize());
  } finally {
    clearInterval(loadSampler);
  }
  const range =
    loads.length === 0
      ? 'n/a'
      : `${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}`;
  console.log(`end: ${describeMachine()}; 1-min load average during the run: ${range}`);
}

await main();
