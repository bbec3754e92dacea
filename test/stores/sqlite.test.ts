/**
 * The SQLite store, on every driver this Node has (better-sqlite3 on a file and in memory,
 * node:sqlite where it exists): conformance, schema, compare-and-set across processes, batched
 * prune, key checks and failures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError, StoreError } from '../../src/core/errors.ts';
import type { Store } from '../../src/core/store.ts';
import type { SQLValue } from '../../src/stores/sql-dialect.ts';
import { type SQLiteDatabase, sqliteSchema, sqliteStore } from '../../src/stores/sqlite.ts';
import { describeStoreConformance } from '../../src/testing/index.ts';
import { storeKey, temporaryDirectory, thrown } from './fs-support.ts';
import type { Spy } from './sql-support.ts';
import { describeVersionTests } from './sql-version-tests.ts';
import {
  type Driver,
  drivers,
  dumpFiles,
  dumpRows,
  type OpenDatabase,
  openFile,
} from './sqlite-support.ts';

const record = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const hour = (): { expiresAt: number } => ({ expiresAt: Date.now() + 3_600_000 });
const userKey = 'user-0123456789abcdef';

/** A database whose statements count their runs, by SQL text. */
function counting(database: OpenDatabase): { database: SQLiteDatabase; runs: Map<string, number> } {
  const runs = new Map<string, number>();
  const prepare = (sql: string) => {
    const statement = database.prepare(sql);
    return {
      run: (...values: Parameters<typeof statement.run>) => {
        runs.set(sql, (runs.get(sql) ?? 0) + 1);
        return statement.run(...values);
      },
      all: (...values: Parameters<typeof statement.all>) => statement.all(...values),
    };
  };
  return { database: { prepare }, runs };
}

/** A database that shows `spy` every statement a store runs, with its values. */
function spying(database: OpenDatabase, spy?: Spy): SQLiteDatabase {
  if (spy === undefined) return database;
  const prepare = (sql: string) => {
    const statement = database.prepare(sql);
    return {
      run: (...values: Parameters<typeof statement.run>) => {
        spy(sql, values);
        return statement.run(...values);
      },
      all: (...values: Parameters<typeof statement.all>) => {
        spy(sql, values);
        return statement.all(...values);
      },
    };
  };
  return { prepare };
}

/** Closes `database` when the file's tests end. */
function kept(database: OpenDatabase): OpenDatabase {
  after(() => database.close());
  return database;
}

/** A database file with the store's table (no await: tests must be registered synchronously). */
function databaseFile(driver: Driver): { path: string; database: OpenDatabase } {
  const path = join(temporaryDirectory(), 'sessions.db');
  const database = kept(openFile(driver, path));
  database.exec(sqliteSchema());
  return { path, database };
}

for (const driver of drivers) {
  if (driver.skip !== undefined) {
    it(`sqlite (${driver.name})`, { skip: driver.skip }, () => undefined);
    continue;
  }
  const { path, database } = databaseFile(driver);
  const connections = new Map<Store, OpenDatabase>();
  describeStoreConformance(`sqlite (${driver.name}, file)`, {
    createStore: () => {
      const connection = openFile(driver, path); // a connection per store, as separate processes have
      const store = sqliteStore({ database: connection });
      connections.set(store, connection);
      return store;
    },
    closeStore: (store) => connections.get(store)?.close(),
    dump: async () => Buffer.concat([dumpRows(database), dumpFiles(path)]),
  });
  const memory = kept(driver.open(':memory:'));
  memory.exec(sqliteSchema());
  describeStoreConformance(`sqlite (${driver.name}, :memory:)`, {
    createStore: () => sqliteStore({ database: memory }),
    dump: async () => dumpRows(memory),
  });
  describeSpecifics(driver);
  const shared = kept(driver.open(':memory:'));
  describeVersionTests({
    name: `sqlite (${driver.name})`,
    store: (options, spy) => sqliteStore({ ...options, database: spying(shared, spy) }),
    exec: async (sql, given = []) => {
      const [statement, values] = [shared.prepare(sql), given as SQLValue[]];
      if (sql.startsWith('SELECT')) return statement.all(...values) as Record<string, unknown>[];
      statement.run(...values);
      return [];
    },
    placeholder: () => '?',
    quote: (name) => `"${name}"`,
  });
}

function describeSpecifics(driver: Driver): void {
  describe(`sqlite (${driver.name}): schema`, () => {
    it('creates one table with indexes on expires_at and user_key; createSchema is idempotent', async () => {
      const database = kept(driver.open(':memory:'));
      const store = sqliteStore({ database, table: 'app_sessions' });
      await store.createSchema();
      await store.createSchema();
      database.exec(sqliteSchema('app_sessions'));
      const columns = database.prepare(`PRAGMA table_info("app_sessions")`).all() as {
        name: string;
        type: string;
        pk: number;
      }[];
      assert.deepEqual(
        columns.map(({ name, type, pk }) => [name, type, pk]),
        [
          ['store_key', 'TEXT', 1],
          ['record', 'BLOB', 0],
          ['expires_at', 'INTEGER', 0],
          ['version', 'INTEGER', 0],
          ['user_key', 'TEXT', 0],
        ],
      );
      const indexes = database.prepare(`PRAGMA index_list("app_sessions")`).all() as {
        name: string;
      }[];
      const names = indexes.map(({ name }) => name);
      assert.ok(
        names.includes('app_sessions_expires_at') && names.includes('app_sessions_user_key'),
      );
      assert.equal(store.table, 'app_sessions');
      assert.equal(sqliteStore({ database }).table, 'pithos_sessions');
    });

    it('works on a table of an attached database (schema-qualified name)', async () => {
      const database = kept(driver.open(':memory:'));
      database.exec(`ATTACH DATABASE ':memory:' AS aux`);
      const store = sqliteStore({ database, table: 'aux.sessions' });
      await store.createSchema();
      await store.createSchema();
      const key = storeKey();
      await store.set(key, record(4), hour());
      assert.deepEqual(await store.get(key), record(4));
      const indexes = database.prepare('PRAGMA aux.index_list("sessions")').all() as {
        name: string;
      }[];
      assert.equal(indexes.filter(({ name }) => name.startsWith('sessions_')).length, 2);
    });

    it('stores the expiry in milliseconds and the user key in plain columns', async () => {
      const database = kept(driver.open(':memory:'));
      const store = sqliteStore({ database });
      await store.createSchema();
      const key = storeKey();
      await store.set(key, record(1, 2), { expiresAt: 1_900_000_000_123, userKey });
      const row = database
        .prepare('SELECT typeof(expires_at) AS type, expires_at, user_key FROM pithos_sessions')
        .get() as { type: string; expires_at: number; user_key: string };
      assert.deepEqual(
        { ...row },
        { type: 'integer', expires_at: 1_900_000_000_123, user_key: userKey },
      );
    });

    it('refuses table names that are not plain identifiers, and a database without the methods', () => {
      const database = kept(driver.open(':memory:'));
      for (const table of [
        'x; DROP TABLE y',
        'a"b',
        '1abc',
        'Sessions',
        'a.b.c',
        '',
        'x'.repeat(49),
      ]) {
        assert.throws(() => sqliteStore({ database, table }), ConfigError, table);
        assert.throws(() => sqliteSchema(table), ConfigError, table);
      }
      assert.throws(() => sqliteStore({ database: {} as OpenDatabase }), ConfigError);
      assert.throws(() => sqliteStore({ database, pruneBatchSize: 0 }), ConfigError);
    });

    it('says to call createSchema when the table is missing', async () => {
      const store = sqliteStore({ database: kept(driver.open(':memory:')) });
      const error = await thrown(() => store.get(storeKey()));
      assert.ok(error instanceof StoreError && error.store === 'sqlite', String(error));
      assert.match(error.message, /createSchema/);
      assert.ok(error.cause !== undefined);
    });
  });

  describe(`sqlite (${driver.name}): compare-and-set`, () => {
    it('of two processes racing on one record, every win is a whole step (no lost update)', async (context) => {
      const { path } = databaseFile(driver);
      const database = kept(openFile(driver, path));
      const store = sqliteStore({ database });
      const key = storeKey();
      await store.set(key, new Uint8Array(16), hour());
      const contender = fileURLToPath(new URL('./sqlite-contender.ts', import.meta.url));
      const run = promisify(execFile);
      const ready = [1, 2].map((n) => `${path}.ready-${n}`);
      const rounds = 400;
      const outputs = await Promise.all(
        ready.map((mine) => {
          const args = [contender, driver.name, path, key, String(rounds), mine, ready.join(',')];
          return run(process.execPath, ['--import', 'tsx', ...args]);
        }),
      );
      const wins = outputs.map(({ stdout }) => Number(stdout));
      const [first = 0, second = 0] = wins;
      const final = (await store.get(key)) as Uint8Array;
      const counter = new DataView(final.buffer, final.byteOffset).getUint32(0);
      assert.equal(counter, first + second, `wins ${wins}, counter ${counter}`);
      assert.ok(wins.every((count) => count > 0));
      context.diagnostic(`${2 * rounds - counter} of ${2 * rounds} writes lost a race`);
    });

    it('creates only when absent or expired, and never undoes a delete', async () => {
      const clock = { now: Date.now() };
      const database = kept(driver.open(':memory:'));
      const store = sqliteStore({ database, clock: () => clock.now });
      await store.createSchema();
      const key = storeKey();
      const soon = { expiresAt: clock.now + 1000 };
      assert.equal(await store.compareAndSet(key, undefined, record(1), soon), true);
      assert.equal(await store.compareAndSet(key, undefined, record(2), soon), false);
      assert.equal(await store.compareAndSet(key, record(9), record(2), soon), false);
      clock.now += 1000;
      assert.equal(await store.compareAndSet(key, record(1), record(2), hour()), false, 'expired');
      assert.equal(await store.compareAndSet(key, undefined, record(3), hour()), true);
      assert.deepEqual(await store.get(key), record(3));
      await store.delete(key);
      assert.equal(await store.compareAndSet(key, record(3), record(4), hour()), false);
      assert.equal(await store.get(key), undefined);
    });
  });

  describe(`sqlite (${driver.name}): prune and index`, () => {
    it('prunes in batches, and keeps live records', async () => {
      const clock = { now: Date.now() };
      const { database, runs } = counting(kept(driver.open(':memory:')));
      const store = sqliteStore({ database, clock: () => clock.now, pruneBatchSize: 10 });
      await store.createSchema();
      for (let i = 0; i < 35; i++) await store.set(storeKey(), record(i), { expiresAt: clock.now });
      const live = Array.from({ length: 5 }, () => storeKey());
      for (const key of live) await store.set(key, record(1), { expiresAt: clock.now + 1 });
      assert.equal(await store.prune(), 35);
      const batches = [...runs].filter(([sql]) => sql.includes('LIMIT 10'));
      assert.deepEqual(
        batches.map(([, count]) => count),
        [4],
      );
      for (const key of live) assert.deepEqual(await store.get(key), record(1));
      assert.equal(await store.prune(), 0);
    });

    it('a long prune lets the event loop turn between batches', async (context) => {
      const database = kept(driver.open(':memory:'));
      const store = sqliteStore({ database, pruneBatchSize: 100 });
      await store.createSchema();
      database.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
        INSERT INTO pithos_sessions (store_key, record, expires_at)
        SELECT printf('%064x', i), x'00', 0 FROM n`);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const started = performance.now();
      try {
        assert.equal(await store.prune(), 20_000);
      } finally {
        clearInterval(timer);
      }
      const elapsed = performance.now() - started;
      context.diagnostic(`${ticks} timer ticks during a ${elapsed.toFixed(0)} ms prune`);
      assert.ok(ticks > 0 || elapsed < 15, `no timer ran during a ${elapsed.toFixed(0)} ms prune`);
    });

    it('refuses hostile store keys and user keys before any statement is prepared or run', async () => {
      const seen: string[] = [];
      const inner = kept(driver.open(':memory:'));
      inner.exec(sqliteSchema());
      const database: SQLiteDatabase = {
        prepare: (sql) => {
          seen.push(`prepare ${sql}`);
          const statement = inner.prepare(sql);
          return {
            run: (...values: SQLValue[]) => {
              seen.push(`run ${sql}`);
              return statement.run(...values);
            },
            all: (...values: SQLValue[]) => {
              seen.push(`all ${sql}`);
              return statement.all(...values);
            },
          };
        },
      };
      const store = sqliteStore({ database });
      const attempts: (() => Promise<unknown>)[] = [];
      for (const key of [
        "x'; DROP TABLE pithos_sessions; --",
        'A'.repeat(64),
        '../../etc/passwd',
        '',
      ]) {
        attempts.push(
          () => store.get(key),
          () => store.set(key, record(1), hour()),
          () => store.delete(key),
          () => store.compareAndSet(key, undefined, record(1), hour()),
          () => store.compareAndSet(key, record(1), record(2), hour()),
        );
      }
      for (const user of ["x' OR 1=1 --", 'short', 'x'.repeat(129), '../../etc/passwd']) {
        attempts.push(
          () => store.listByUser(user),
          () => store.deleteByUser(user),
          () => store.set(storeKey(), record(1), { ...hour(), userKey: user }),
          () => store.compareAndSet(storeKey(), undefined, record(1), { ...hour(), userKey: user }),
        );
      }
      for (const attempt of attempts) {
        const error = await thrown(attempt);
        assert.ok(error instanceof StoreError && error.code === 'STORE_KEY_INVALID', String(error));
      }
      assert.equal(seen.join('\n'), '', 'a statement reached the database for a refused key');
      // The spy sees what a well-formed key does, so the empty list above means something.
      await store.get(storeKey());
      assert.ok(
        seen.some((entry) => entry.startsWith('all SELECT')),
        seen.join('\n'),
      );
    });

    it('a value that is not a BLOB fails as a StoreError, never as a session', async () => {
      const database = kept(driver.open(':memory:'));
      const store = sqliteStore({ database });
      await store.createSchema();
      const key = storeKey();
      database
        .prepare('INSERT INTO pithos_sessions (store_key, record, expires_at) VALUES (?, ?, ?)')
        .run(key, 'text, not bytes', Date.now() + 60_000);
      const error = await thrown(() => store.get(key));
      assert.ok(error instanceof StoreError && error.store === 'sqlite', String(error));
    });
  });

  describe(`sqlite (${driver.name}): failures`, () => {
    it('a file that is not a database fails with a StoreError naming SQLITE_NOTADB', async () => {
      const path = join(temporaryDirectory(), 'not-a-database');
      writeFileSync(path, 'x'.repeat(4096));
      const store = sqliteStore({ database: kept(driver.open(path)) });
      const error = await thrown(() => store.get(storeKey()));
      assert.ok(error instanceof StoreError && error.store === 'sqlite', String(error));
      assert.match(error.message, /SQLITE_NOTADB/);
    });

    it('a locked database fails with a StoreError that recommends busy_timeout, then works again', async () => {
      const { path, database } = databaseFile(driver);
      const other = kept(driver.open(path));
      other.exec('PRAGMA busy_timeout = 0');
      const store = sqliteStore({ database: other });
      database.exec('BEGIN IMMEDIATE');
      try {
        const error = await thrown(() => store.set(storeKey(), record(1), hour()));
        assert.ok(error instanceof StoreError && error.store === 'sqlite', String(error));
        assert.match(error.message, /SQLITE_BUSY/);
        assert.match(String((error.cause as Error).message), /busy_timeout/);
      } finally {
        database.exec('COMMIT');
      }
      const key = storeKey();
      await store.set(key, record(5), hour());
      assert.deepEqual(await store.get(key), record(5));
    });
  });
}
